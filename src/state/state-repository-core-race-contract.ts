import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { JobRecord, StateRepository } from './state-repository.ts';

type ContractTest = (title: string, body: (t: TestContext) => Promise<void>) => void;

/**
 * Two server processes on one state, racing, for jobs, their output and the takeover of gone
 * servers (`runStateRepositoryContract` calls it with a second repository opened on the same
 * storage, as `raceStateContract` does for tickets, plans, cron jobs and triggers): SQLite's
 * single writer gives these for free, PostgreSQL needs row locks or atomic statements. The owner
 * here (`racer`) is used by no other test of the suite.
 */
export function coreRaceStateContract(
  test: ContractTest,
  repository: () => StateRepository,
  secondRepository: () => StateRepository,
): void {
  test("a gone server's work goes to exactly one of two racing successors", async () => {
    const first = repository();
    const second = secondRepository();
    const at = new Date().toISOString();
    for (let round = 0; round < 5; round++) {
      const gone = `gone-${round}`;
      for (let index = 0; index < 4; index++) {
        await first.insertJob(
          job(`race-${round}-${index}`, { host: 'race-host', server: gone, status: 'running' }),
        );
      }
      await first.upsertSandbox({
        owner: 'racer',
        name: `race-sb-${round}`,
        runtimeId: 'rt',
        workspace: null,
        status: 'running',
        options: {},
        reason: null,
        createdAt: at,
        lastActiveAt: at,
        host: 'race-host',
        server: gone,
      });
      const takeovers = await Promise.all(
        [first, second].map((state, index) =>
          state.takeOverServer({ server: gone, host: 'race-host', successor: `s${index}`, at }),
        ),
      );
      const winners = takeovers.filter((taken) => taken !== undefined);
      assert.equal(winners.length, 1, `round ${round}: one takeover succeeds`);
      const winner = takeovers[0] ? 's0' : 's1';
      assert.equal(winners[0]?.jobs.length, 4);
      assert.equal(winners[0]?.sandboxes.length, 1);
      assert.equal(await second.serverSuccessor(gone), winner);
      for (let index = 0; index < 4; index++) {
        assert.equal((await second.getJob('racer', `race-${round}-${index}`))?.server, winner);
      }
      assert.equal((await first.getSandbox('racer', `race-sb-${round}`))?.server, winner);
    }
  });

  test('a chain of takeovers at once (A takes over B while C takes over A) strands no work', async () => {
    const first = repository();
    const second = secondRepository();
    const at = new Date().toISOString();
    for (let round = 0; round < 10; round++) {
      const [a, b, c] = ['a', 'b', 'c'].map((name) => `chain-${round}-${name}`) as [
        string,
        string,
        string,
      ];
      for (const server of [a, b]) {
        await first.insertJob(
          job(`${server}-job`, { host: 'chain-host', server, status: 'running' }),
        );
      }
      await Promise.all([
        first.takeOverServer({ server: b, host: 'chain-host', successor: a, at }),
        second.takeOverServer({ server: a, host: 'chain-host', successor: c, at }),
      ]);
      // Whichever went first, no running job is left with a server that was taken over: nobody
      // could ever take it again.
      for (const server of [a, b]) {
        const holder = (await second.getJob('racer', `${server}-job`))?.server;
        assert.ok(holder, `round ${round}: ${server}-job`);
        assert.equal(
          await second.serverSuccessor(holder),
          undefined,
          `round ${round}: ${server}-job is with ${holder}, which was taken over`,
        );
      }
    }
  });

  test('of two writers of one workspace inserted at once, exactly one is recorded', async () => {
    const first = repository();
    const second = secondRepository();
    const writer = (id: string, workspace: string, options: Record<string, unknown> = {}) =>
      job(id, { workspace, runOptions: { workspace, ...options } as JobRecord['runOptions'] });
    for (let round = 0; round < 10; round++) {
      const workspace = `race-ws-${round}`;
      const refused = await Promise.all(
        [first, second].map((state, index) =>
          state.insertRunJob(writer(`writer-${round}-${index}`, workspace), workspace),
        ),
      );
      const inserted = refused.filter((busy) => busy === undefined);
      assert.equal(inserted.length, 1, `round ${round}: one writer is recorded`);
      const winner = refused[0] === undefined ? 0 : 1;
      assert.equal(refused[1 - winner], `writer-${round}-${winner}`, 'the other names it');
      assert.equal(await first.getJob('racer', `writer-${round}-${1 - winner}`), undefined);
    }
    // What does not write it holds nothing: a reader (base), a throw-away or versioned run, a
    // finished writer, another owner's, one in `except`.
    const held = 'race-ws-held';
    await first.insertJob(job('reader', { workspace: held, runOptions: { base: held } as never }));
    await first.insertJob(writer('throwaway', held, { ephemeral: true }));
    await first.insertJob(writer('versioned', held, { version: 2 }));
    await first.insertJob(writer('finished', held));
    await first.updateJob('finished', {
      status: 'succeeded',
      finishedAt: new Date().toISOString(),
    });
    await first.insertJob({ ...writer('other-owner', held), owner: 'racer-2' });
    assert.equal(await second.insertRunJob(writer('held-1', held), held), undefined);
    assert.equal(await first.insertRunJob(writer('held-2', held), held), 'held-1');
    assert.equal(await first.insertRunJob(writer('held-3', held), held, ['held-1']), undefined);
    // A run that writes nothing is recorded whatever runs.
    assert.equal(
      await second.insertRunJob(job('held-reader', { workspace: held }), undefined),
      undefined,
    );
    assert.equal((await first.getJob('racer', 'held-reader'))?.status, 'queued');
  });

  test('appends to one job at once keep every chunk and end its logBytes at the end', async () => {
    const first = repository();
    const second = secondRepository();
    await first.insertJob(job('race-log', { status: 'running' }));
    // Batches of consecutive chunks, handed alternately to either process, all in flight.
    const batches = Array.from({ length: 20 }, (_, index) => [
      {
        offset: index * 10,
        stream: 'stdout' as const,
        data: Buffer.from(`${index}`.padStart(10)),
      },
    ]);
    await Promise.all(
      batches.map((batch, index) =>
        (index % 2 === 0 ? first : second).appendLog('race-log', batch),
      ),
    );
    const chunks = await second.readLog('race-log', 0, 1 << 20);
    assert.deepEqual(
      chunks.map((chunk) => chunk.offset),
      batches.map((_, index) => index * 10),
    );
    assert.equal((await first.getJob('racer', 'race-log'))?.logBytes, 200);
  });

  test('a finished job is deleted once, by one of them', async () => {
    const first = repository();
    const second = secondRepository();
    await first.insertJob(job('race-delete', { status: 'succeeded', exitCode: 0 }));
    await first.appendLog('race-delete', [
      { offset: 0, stream: 'stdout', data: Buffer.from('bye') },
    ]);
    const deleted = await Promise.all([
      first.deleteJob('racer', 'race-delete'),
      second.deleteJob('racer', 'race-delete'),
    ]);
    assert.deepEqual(deleted.filter(Boolean).length, 1);
    assert.deepEqual(await second.readLog('race-delete', 0, 1024), []);
  });
}

function job(id: string, overrides: Partial<JobRecord>): JobRecord {
  return {
    id,
    owner: 'racer',
    kind: 'run',
    sandbox: null,
    argv: ['true'],
    workspace: null,
    status: 'queued',
    exitCode: null,
    signal: null,
    reason: null,
    endReason: null,
    sandboxId: null,
    message: null,
    createdAt: new Date().toISOString(),
    startedAt: null,
    finishedAt: null,
    logBytes: 0,
    logsRemovedAt: null,
    logsRemovedReason: null,
    ...overrides,
  };
}
