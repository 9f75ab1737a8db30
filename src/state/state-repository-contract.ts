import assert from 'node:assert/strict';
import { after, before, describe, test as nodeTest, type TestContext } from 'node:test';
import { type ContractSkip, namedSkips } from '../testing/contract-skips.ts';
import type { JobRecord, StateRepository } from './state-repository.ts';
import { coreRaceStateContract } from './state-repository-core-race-contract.ts';
import { cronStateContract } from './state-repository-cron-contract.ts';
import { planStateContract } from './state-repository-plan-contract.ts';
import { raceStateContract } from './state-repository-race-contract.ts';
import { ticketStateContract } from './state-repository-ticket-contract.ts';
import { urlStateContract } from './state-repository-url-contract.ts';

/**
 * The contract every StateRepository (SQLite, PostgreSQL) passes. `createRepository` returns a
 * fresh, empty repository; `reopen` (optional) opens the same storage again, as a restarted
 * server would.
 */
export function runStateRepositoryContract(options: {
  name: string;
  createRepository: () => Promise<StateRepository>;
  reopen?: (previous: StateRepository) => Promise<StateRepository>;
  /** A second repository on the same storage, as another server process opens it (races). */
  openSecond?: () => Promise<StateRepository>;
  /** Tests this repository cannot pass, by title, with the reason. */
  skip?: ContractSkip[];
}): void {
  describe(`state repository contract: ${options.name}`, () => {
    const skips = namedSkips(options.skip);
    const test = (title: string, body: (t: TestContext) => Promise<void>) =>
      nodeTest(title, { skip: skips.reasonFor(title) ?? false }, body);
    let repository: StateRepository;
    before(async () => {
      repository = await options.createRepository();
    });
    after(() => repository.close());
    let second: StateRepository | undefined;
    before(async () => {
      second = await options.openSecond?.();
    });
    after(() => second?.close());

    const job = (id: string, overrides: Partial<JobRecord> = {}): JobRecord => ({
      id,
      owner: 'alice',
      kind: 'run',
      sandbox: null,
      argv: ['sh', '-c', `echo ${id}`],
      workspace: null,
      status: 'running',
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
    });

    test('tokens are found by hash, listed per owner and revoked once', async () => {
      const createdAt = new Date().toISOString();
      await repository.insertToken({
        id: 't1',
        owner: 'alice',
        name: 'laptop',
        hash: 'h1',
        createdAt,
        revokedAt: null,
        admin: false,
      });
      await repository.insertToken({
        id: 't2',
        owner: 'bob',
        name: 'ci',
        hash: 'h2',
        createdAt,
        revokedAt: null,
        admin: true,
      });
      assert.equal((await repository.findTokenByHash('h1'))?.owner, 'alice');
      assert.equal((await repository.findTokenByHash('h1'))?.admin, false);
      assert.equal((await repository.findTokenByHash('h2'))?.admin, true);
      assert.equal(await repository.findTokenByHash('nope'), undefined);
      assert.deepEqual(
        (await repository.listTokens('bob')).map((token) => token.id),
        ['t2'],
      );
      assert.equal(await repository.revokeToken('t1', createdAt), true);
      assert.equal(await repository.revokeToken('t1', createdAt), false);
      assert.equal((await repository.findTokenByHash('h1'))?.revokedAt, createdAt);
    });

    test('jobs are owned: another owner cannot get them or see them listed', async () => {
      await repository.insertJob(job('j-own', { owner: 'alice' }));
      assert.equal((await repository.getJob('alice', 'j-own'))?.id, 'j-own');
      assert.equal(await repository.getJob('bob', 'j-own'), undefined);
      const bobs = await repository.listJobs({ owner: 'bob', limit: 100 });
      assert.ok(bobs.jobs.every((record) => record.owner === 'bob'));
    });

    test('job updates persist and the argv round-trips exactly', async () => {
      const argv = ['printf', '%s\n', 'a b', "it's", 'ünïcode', ''];
      await repository.insertJob(job('j-update', { argv }));
      await repository.updateJob('j-update', {
        status: 'failed',
        exitCode: 3,
        reason: 'exited with 3',
        finishedAt: '2026-01-01T00:00:00.000Z',
      });
      const stored = await repository.getJob('alice', 'j-update');
      assert.deepEqual(stored?.argv, argv);
      assert.equal(stored?.status, 'failed');
      assert.equal(stored?.exitCode, 3);
      assert.equal(stored?.finishedAt, '2026-01-01T00:00:00.000Z');
    });

    test('how a job ended, its message and its sandbox are stored, on insert and on update', async () => {
      await repository.insertJob(job('j-ended', { status: 'queued' }));
      assert.deepEqual(
        pick(await repository.getJob('alice', 'j-ended')),
        [null, null, null],
        'unset while it has not ended',
      );
      await repository.updateJob('j-ended', { status: 'running', sandboxId: 'run-abc' });
      await repository.updateJob('j-ended', {
        status: 'failed',
        endReason: 'timed_out',
        message: 'timed out after 1 s',
      });
      assert.deepEqual(pick(await repository.getJob('alice', 'j-ended')), [
        'timed_out',
        'timed out after 1 s',
        'run-abc',
      ]);
      await repository.insertJob(
        job('j-inserted-ended', {
          status: 'succeeded',
          exitCode: 0,
          endReason: 'exited',
          message: 'synced',
          sandboxId: 'run-def',
        }),
      );
      assert.deepEqual(pick(await repository.getJob('alice', 'j-inserted-ended')), [
        'exited',
        'synced',
        'run-def',
      ]);
    });

    test('listing pages newest first, with filters, and never repeats a job', async () => {
      for (let index = 0; index < 25; index++) {
        await repository.insertJob(
          job(`j-page-${index}`, {
            owner: 'carol',
            workspace: index % 2 === 0 ? 'even' : 'odd',
            status: index % 5 === 0 ? 'succeeded' : 'running',
          }),
        );
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await repository.listJobs({ owner: 'carol', limit: 10, cursor });
        assert.ok(page.jobs.length <= 10);
        seen.push(...page.jobs.map((record) => record.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.equal(seen.length, 25);
      assert.equal(new Set(seen).size, 25);
      assert.equal(seen[0], 'j-page-24');
      const even = await repository.listJobs({ owner: 'carol', workspace: 'even', limit: 100 });
      assert.equal(even.jobs.length, 13);
      const done = await repository.listJobs({ owner: 'carol', status: 'succeeded', limit: 100 });
      assert.deepEqual(
        done.jobs.map((record) => record.id),
        ['j-page-20', 'j-page-15', 'j-page-10', 'j-page-5', 'j-page-0'],
      );
    });

    test("a job's message or reason quoting output with NUL is stored (PostgreSQL: as U+FFFD)", async () => {
      await repository.insertJob(job('j-nul', { owner: 'nadia', reason: 'r\0', message: 'm\0' }));
      assert.equal(
        (await repository.getJob('nadia', 'j-nul'))?.message?.replace('\uFFFD', '\0'),
        'm\0',
      );
      await repository.updateJob('j-nul', { message: 'out: a\0b', reason: 'exit\0' });
      const stored = await repository.getJob('nadia', 'j-nul');
      assert.deepEqual(
        [stored?.message, stored?.reason].map((value) => value?.replaceAll('\uFFFD', '\0')),
        ['out: a\0b', 'exit\0'],
      );
    });

    test('a cursor beyond any job lists from the newest (the API takes any digits)', async () => {
      await repository.insertJob(job('j-far-cursor', { owner: 'farah' }));
      for (const cursor of ['9223372036854775808', '1000000000000000000000']) {
        const page = await repository.listJobs({ owner: 'farah', limit: 10, cursor });
        assert.deepEqual(
          page.jobs.map((record) => record.id),
          ['j-far-cursor'],
        );
      }
    });

    test('logs are read back from any offset, including the middle of a chunk', async () => {
      await repository.insertJob(job('j-log'));
      const bytes = Buffer.from('hello world, this is stderr\u0000\u00ff binary');
      await repository.appendLog('j-log', [
        { offset: 0, stream: 'stdout', data: bytes.subarray(0, 12) },
        { offset: 12, stream: 'stderr', data: bytes.subarray(12, 28) },
      ]);
      await repository.appendLog('j-log', [
        { offset: 28, stream: 'stdout', data: bytes.subarray(28) },
      ]);
      assert.equal((await repository.getJob('alice', 'j-log'))?.logBytes, bytes.length);
      for (const from of [0, 5, 12, 20, 28, bytes.length]) {
        const chunks = await repository.readLog('j-log', from, 1 << 20);
        const joined = Buffer.concat(chunks.map((chunk) => chunk.data));
        const start = chunks[0]?.offset ?? bytes.length;
        assert.ok(start <= from, `the first chunk starts at or before ${from}`);
        assert.deepEqual(joined.subarray(from - start), bytes.subarray(from));
      }
      const streams = (await repository.readLog('j-log', 0, 1 << 20)).map((chunk) => chunk.stream);
      assert.deepEqual(streams, ['stdout', 'stderr', 'stdout']);
    });

    test('a read returns up to maxBytes however small the stored batches are', async () => {
      // A job printing a line every 20 ms stores ~3 lines a batch (job-log.ts flushes every
      // 50 ms): 200 lines made ~67 rows, and a read that stopped at a row count (65 here) lost
      // the last rows of a log far smaller than the bytes asked for.
      await repository.insertJob(job('j-small-batches'));
      const lines = Array.from({ length: 300 }, (_, index) => Buffer.from(`${index + 1}\n`));
      let offset = 0;
      for (const data of lines) {
        await repository.appendLog('j-small-batches', [{ offset, stream: 'stdout', data }]);
        offset += data.length;
      }
      const all = Buffer.concat(lines);
      const whole = await repository.readLog('j-small-batches', 0, 1 << 20);
      assert.equal(Buffer.concat(whole.map((chunk) => chunk.data)).toString(), all.toString());
      // From the middle of the log too, and a page still ends near maxBytes.
      const tail = await repository.readLog('j-small-batches', 500, 1 << 20);
      const tailStart = tail[0]?.offset ?? offset;
      const tailBytes = Buffer.concat(tail.map((chunk) => chunk.data));
      assert.equal(tailBytes.subarray(500 - tailStart).toString(), all.subarray(500).toString());
      const page = await repository.readLog('j-small-batches', 0, 100);
      const pageBytes = page.reduce((sum, chunk) => sum + chunk.data.length, 0);
      assert.ok(pageBytes >= 100 && pageBytes < 100 + 4, `a 100-byte page holds ${pageBytes}`);
    });

    test('finished output is listed oldest first, removed with a reason, and no longer read', async () => {
      const output = (id: string, text: string) =>
        repository.appendLog(id, [{ offset: 0, stream: 'stdout', data: Buffer.from(text) }]);
      const finished = (id: string, finishedAt: string) =>
        job(id, { owner: 'dave', status: 'succeeded', exitCode: 0, finishedAt });
      await repository.insertJob(finished('j-old', '2026-01-01T00:00:00.000Z'));
      await repository.insertJob(finished('j-new', '2026-01-03T00:00:00.000Z'));
      await repository.insertJob(job('j-running', { owner: 'dave' }));
      await output('j-old', 'old output');
      await output('j-new', 'new output!');
      await output('j-running', 'running');
      assert.equal(await repository.storedLogBytes('dave'), 10 + 11 + 7);
      assert.ok((await repository.storedLogOwners()).includes('dave'));
      const listed = await repository.listStoredLogs({ owner: 'dave', limit: 10 });
      assert.deepEqual(
        listed.map((log) => [log.id, log.bytes]),
        [
          ['j-old', 10],
          ['j-new', 11],
        ],
      );
      const before = await repository.listStoredLogs({
        owner: 'dave',
        finishedBefore: '2026-01-02T00:00:00.000Z',
        limit: 10,
      });
      assert.deepEqual(
        before.map((log) => log.id),
        ['j-old'],
      );
      // A running job's output is never removed, whatever the caller asks.
      const removed = await repository.removeLogs(['j-old', 'j-running'], 'at-1', 'too old');
      assert.deepEqual(
        removed.map((log) => [log.id, log.owner, log.bytes]),
        [['j-old', 'dave', 10]],
      );
      assert.deepEqual(await repository.removeLogs(['j-old'], 'at-2', 'again'), []);
      const old = await repository.getJob('dave', 'j-old');
      assert.equal(old?.logsRemovedAt, 'at-1');
      assert.equal(old?.logsRemovedReason, 'too old');
      assert.equal(old?.logBytes, 10, 'the record still says how much there was');
      assert.deepEqual(await repository.readLog('j-old', 0, 1024), []);
      assert.equal(await repository.storedLogBytes('dave'), 11 + 7);
      assert.equal((await repository.getJob('dave', 'j-running'))?.logsRemovedAt, null);
    });

    test('a finished job is deleted with its output; a running or foreign one is not', async () => {
      await repository.insertJob(job('j-delete', { owner: 'erin', status: 'failed' }));
      await repository.insertJob(job('j-busy', { owner: 'erin', status: 'running' }));
      for (const id of ['j-delete', 'j-busy']) {
        await repository.appendLog(id, [{ offset: 0, stream: 'stderr', data: Buffer.from(id) }]);
      }
      assert.equal(await repository.deleteJob('alice', 'j-delete'), false);
      assert.equal(await repository.deleteJob('erin', 'j-busy'), false);
      assert.equal(await repository.deleteJob('erin', 'j-delete'), true);
      assert.equal(await repository.getJob('erin', 'j-delete'), undefined);
      assert.deepEqual(await repository.readLog('j-delete', 0, 1024), []);
      assert.equal(await repository.deleteJob('erin', 'j-delete'), false);
      assert.equal((await repository.getJob('erin', 'j-busy'))?.status, 'running');
      assert.equal(await repository.storedLogBytes('erin'), 'j-busy'.length);
    });

    test('sandboxes and workspaces are per owner', async () => {
      const at = new Date().toISOString();
      await repository.upsertSandbox({
        owner: 'alice',
        name: 'dev',
        runtimeId: 'sb-1',
        workspace: 'dev',
        status: 'running',
        options: { network: true },
        reason: null,
        createdAt: at,
        lastActiveAt: at,
      });
      assert.deepEqual((await repository.getSandbox('alice', 'dev'))?.options, { network: true });
      assert.equal(await repository.getSandbox('bob', 'dev'), undefined);
      await repository.touchWorkspace('alice', 'dev', at);
      await repository.touchWorkspace('alice', 'dev', at);
      assert.equal((await repository.listWorkspaces('alice')).length, 1);
      assert.equal((await repository.listWorkspaces('bob')).length, 0);
    });

    test('interrupted jobs and sandboxes are marked with the reason', async () => {
      await repository.insertJob(job('j-interrupted', { status: 'running' }));
      await repository.insertJob(job('j-queued', { status: 'queued' }));
      await repository.insertJob(job('j-finished', { status: 'succeeded', exitCode: 0 }));
      const changed = await repository.recoverInterrupted('server restarted', 'now');
      assert.ok(changed.jobs >= 2);
      assert.ok(changed.sandboxes >= 1);
      const interrupted = await repository.getJob('alice', 'j-interrupted');
      assert.equal(interrupted?.status, 'failed');
      assert.equal(interrupted?.reason, 'server restarted');
      assert.equal(interrupted?.endReason, 'failed');
      assert.equal(interrupted?.message, 'server restarted');
      assert.equal((await repository.getJob('alice', 'j-finished'))?.status, 'succeeded');
      assert.equal((await repository.getSandbox('alice', 'dev'))?.status, 'stopped');
    });

    test('host and server are recorded; recovery without a host leaves hosted work alone', async () => {
      const at = new Date().toISOString();
      await repository.insertJob(
        job('j-hosted', { host: 'h-keep', server: 's-keep', runOptions: { persist: true } }),
      );
      await repository.upsertSandbox({
        owner: 'alice',
        name: 'hosted',
        runtimeId: 'sb-h',
        workspace: null,
        status: 'sleeping',
        options: {},
        reason: null,
        createdAt: at,
        lastActiveAt: at,
        host: 'h-keep',
        server: 's-keep',
      });
      const stored = await repository.getJob('alice', 'j-hosted');
      assert.deepEqual(
        [stored?.host, stored?.server, stored?.runOptions],
        ['h-keep', 's-keep', { persist: true }],
      );
      assert.equal((await repository.getJob('alice', 'j-update'))?.host, null);
      const sandbox = await repository.getSandbox('alice', 'hosted');
      assert.deepEqual([sandbox?.host, sandbox?.server], ['h-keep', 's-keep']);
      await repository.recoverInterrupted('old server gone', at);
      assert.equal((await repository.getJob('alice', 'j-hosted'))?.status, 'running');
      assert.equal((await repository.getSandbox('alice', 'hosted'))?.status, 'sleeping');
    });

    test("a gone server's work is taken over once, by one successor, per host", async () => {
      const at = new Date().toISOString();
      const sandbox = (name: string, host: string, server: string) =>
        repository.upsertSandbox({
          owner: 'frank',
          name,
          runtimeId: `rt-${name}`,
          workspace: null,
          status: 'running',
          options: {},
          reason: null,
          createdAt: at,
          lastActiveAt: at,
          host,
          server,
        });
      await repository.insertJob(job('j-a1', { owner: 'frank', host: 'h1', server: 'a' }));
      await repository.insertJob(
        job('j-a2', { owner: 'frank', host: 'h1', server: 'a', status: 'queued' }),
      );
      await repository.insertJob(
        job('j-a-done', { owner: 'frank', host: 'h1', server: 'a', status: 'succeeded' }),
      );
      await repository.insertJob(job('j-b', { owner: 'frank', host: 'h1', server: 'b' }));
      await repository.insertJob(job('j-other-host', { owner: 'frank', host: 'h2', server: 'a' }));
      await sandbox('sb-a', 'h1', 'a');
      await sandbox('sb-b', 'h1', 'b');
      assert.deepEqual((await repository.unfinishedServers('h1')).sort(), ['a', 'b']);
      assert.deepEqual(await repository.unfinishedServers('h3'), []);

      const taken = await repository.takeOverServer({
        server: 'a',
        host: 'h1',
        successor: 'c',
        at,
      });
      assert.deepEqual(taken?.jobs.map((record) => record.id).sort(), ['j-a1', 'j-a2']);
      assert.deepEqual(
        taken?.sandboxes.map((record) => [record.name, record.server]),
        [['sb-a', 'c']],
      );
      assert.equal(
        await repository.takeOverServer({ server: 'a', host: 'h1', successor: 'd', at }),
        undefined,
        'only once',
      );
      assert.equal((await repository.getJob('frank', 'j-a1'))?.server, 'c');
      assert.equal((await repository.getJob('frank', 'j-a-done'))?.server, 'a');
      assert.equal((await repository.getJob('frank', 'j-b'))?.server, 'b');
      assert.equal((await repository.getJob('frank', 'j-other-host'))?.server, 'a');
      assert.equal(await repository.serverSuccessor('a'), 'c');
      assert.equal(await repository.serverSuccessor('b'), undefined);
      // The successor goes too: what it had taken over moves on with its own work.
      await repository.takeOverServer({ server: 'c', host: 'h1', successor: 'e', at });
      assert.equal(await repository.serverSuccessor('a'), 'e');
      assert.equal((await repository.getSandbox('frank', 'sb-a'))?.server, 'e');
    });

    test('a server already taken over takes over nothing: the work waits for a live one', async () => {
      const at = new Date().toISOString();
      await repository.insertJob(job('j-chain-b', { owner: 'frank', host: 'h9', server: 'cb' }));
      await repository.insertJob(job('j-chain-a', { owner: 'frank', host: 'h9', server: 'ca' }));
      // cc took over ca (gone); ca, late, then tries to take over cb.
      await repository.takeOverServer({ server: 'ca', host: 'h9', successor: 'cc', at });
      assert.equal(
        await repository.takeOverServer({ server: 'cb', host: 'h9', successor: 'ca', at }),
        undefined,
      );
      assert.equal((await repository.getJob('frank', 'j-chain-b'))?.server, 'cb');
      assert.equal(await repository.serverSuccessor('cb'), undefined);
      const taken = await repository.takeOverServer({
        server: 'cb',
        host: 'h9',
        successor: 'cc',
        at,
      });
      assert.deepEqual(
        taken?.jobs.map((record) => record.id),
        ['j-chain-b'],
      );
    });

    test('stored output is counted per stream', async () => {
      await repository.insertJob(job('j-streams'));
      await repository.appendLog('j-streams', [
        { offset: 0, stream: 'stdout', data: Buffer.from('12345') },
        { offset: 5, stream: 'stderr', data: Buffer.from('ab') },
        { offset: 7, stream: 'stdout', data: Buffer.from('678') },
      ]);
      assert.deepEqual(await repository.logStreamBytes('j-streams'), { stdout: 8, stderr: 2 });
      assert.deepEqual(await repository.logStreamBytes('j-none'), { stdout: 0, stderr: 0 });
    });

    ticketStateContract(test, () => repository);
    planStateContract(test, () => repository);
    cronStateContract(test, () => repository);
    urlStateContract(test, () => repository);
    raceStateContract(
      test,
      () => repository,
      () => {
        // Without openSecond() these fail: a repository that cannot be opened twice names them
        // in `skip` with its reason.
        if (!second) throw new Error('no openSecond() given to the contract');
        return second;
      },
    );
    coreRaceStateContract(
      test,
      () => repository,
      () => {
        if (!second) throw new Error('no openSecond() given to the contract');
        return second;
      },
    );

    test('everything committed survives reopening', async () => {
      // Without reopen() this fails: a repository that cannot be reopened (in memory) names it
      // in `skip` with its reason.
      if (!options.reopen) throw new Error('no reopen() given to the contract');
      await repository.insertJob(job('j-durable', { status: 'succeeded', exitCode: 0 }));
      await repository.appendLog('j-durable', [
        { offset: 0, stream: 'stdout', data: Buffer.from('kept\n') },
      ]);
      const event = await repository.appendTicketEvent('tkt_durable', {
        attempt: 1,
        at: 'then',
        data: { type: 'comment', author: 'alice', text: 'kept' },
      });
      repository = await options.reopen(repository);
      assert.equal((await repository.getJob('alice', 'j-durable'))?.status, 'succeeded');
      assert.deepEqual(await repository.readTicketEvents('tkt_durable', 0, 10), [event]);
      assert.equal((await repository.getProject('pat', 'api'))?.workspace, 'project.api');
      const chunks = await repository.readLog('j-durable', 0, 1024);
      assert.equal(Buffer.concat(chunks.map((chunk) => chunk.data)).toString(), 'kept\n');
    });

    skips.registerCheck();
  });
}

const pick = (record: JobRecord | undefined) => [
  record?.endReason,
  record?.message,
  record?.sandboxId,
];
