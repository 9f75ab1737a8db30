import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { StateRepository } from './state-repository.ts';
import { cronJob, run } from './state-repository-cron-contract.ts';
import { firing, trigger } from './state-repository-trigger-contract.ts';

type ContractTest = (title: string, body: (t: TestContext) => Promise<void>) => void;

/**
 * Two server processes on one state, racing (`runStateRepositoryContract` calls it with a second
 * repository opened on the same storage): what each method promises "once" or "never both" holds
 * when the calls come from two repositories at the same moment, as they do when several servers
 * share one PostgreSQL. Owners here (`rex`, `rio`) are used by no other test of the suite.
 */
export function raceStateContract(
  test: ContractTest,
  repository: () => StateRepository,
  second: () => StateRepository,
): void {
  /** Calls `call` `count` times at once, alternating between the two repositories. */
  const race = <Result>(
    count: number,
    call: (state: StateRepository, index: number) => Promise<Result>,
  ) =>
    Promise.all(
      Array.from({ length: count }, (_, index) =>
        call(index % 2 === 0 ? repository() : second(), index),
      ),
    );

  test('two servers appending to one ticket and one plan get distinct, consecutive ids', async () => {
    const at = new Date().toISOString();
    const events = await race(30, (state, index) =>
      state.appendTicketEvent('tkt_race', {
        attempt: 1,
        at,
        data: { type: 'comment', author: 'rex', text: `from ${index}` },
      }),
    );
    const ids = (list: { id: number }[]) => list.map((event) => event.id).sort((a, b) => a - b);
    assert.deepEqual(
      ids(events),
      Array.from({ length: 30 }, (_, index) => index + 1),
    );
    // Each id holds what its append was given.
    const stored = await second().readTicketEvents('tkt_race', 0, 100);
    assert.deepEqual(
      stored,
      [...events].sort((a, b) => a.id - b.id),
    );
    const planEvents = await race(20, (state, index) =>
      state.appendPlanEvent('pln_race', { at, data: { type: 'notice', message: `n${index}` } }),
    );
    assert.deepEqual(
      ids(planEvents),
      Array.from({ length: 20 }, (_, index) => index + 1),
    );
    assert.equal(await repository().lastPlanEventId('pln_race'), 20);
  });

  test('two servers claiming one scheduled time of a cron job: one run is recorded', async () => {
    await repository().insertCronJob(cronJob('crn_race', 'rex', 'raced'), 100);
    const keep = { keepRuns: 1000 };
    for (let tick = 0; tick < 10; tick++) {
      const scheduledAt = `2026-01-01T00:00:0${tick}.000Z`;
      const claims = await race(4, (state, index) =>
        state.claimCronRun(
          run(`crr_race_${tick}_${index}`, 'crn_race', scheduledAt, { owner: 'rex' }),
          null,
          keep,
        ),
      );
      assert.equal(claims.filter(Boolean).length, 1, `claims of ${scheduledAt}`);
    }
    const { runs } = await repository().listCronRuns('crn_race', { limit: 100 });
    assert.equal(runs.length, 10);
    assert.equal(
      (await second().getCronJob('rex', 'raced'))?.lastRunAt,
      '2026-01-01T00:00:09.000Z',
    );
  });

  test('two servers starting runs of one cron job without overlap: never both start', async () => {
    for (let round = 0; round < 6; round++) {
      const cronId = `crn_overlap_${round}`;
      await repository().insertCronJob(cronJob(cronId, 'rex', `overlap-${round}`), 100);
      // No run's job is submitted yet: a run claimed since `since` counts as busy.
      const recording = {
        keepRuns: 1000,
        busy: { since: '2000-01-01T00:00:00.000Z', reason: () => 'another run is busy' },
      };
      // Two scheduled times claimed and a manual run (`mags cron run`), all at once.
      const runs = await race(3, (state, index) => {
        const each = run(
          `crr_overlap_${round}_${index}`,
          cronId,
          `2026-01-01T00:00:0${index}.000Z`,
          {
            owner: 'rex',
            trigger: index === 1 ? 'manual' : 'schedule',
          },
        );
        return index === 1
          ? state.insertCronRun(each, recording)
          : state.claimCronRun(each, null, recording);
      });
      const statuses = runs.map((each) => each?.status);
      assert.equal(
        statuses.filter((status) => status === 'started').length,
        1,
        `round ${round}: ${statuses}`,
      );
    }
  });

  test('two servers adding cron jobs at once never pass the per-owner limit', async () => {
    const added = await race(8, (state, index) =>
      state.insertCronJob(cronJob(`crn_limit_${index}`, 'rio', `job-${index}`), 3),
    );
    assert.equal(added.filter((outcome) => outcome === 'inserted').length, 3);
    assert.equal(added.filter((outcome) => outcome === 'limit').length, 5);
    assert.equal(await second().countCronJobs('rio'), 3);
    const named = await race(4, (state, index) =>
      state.insertCronJob(cronJob(`crn_named_${index}`, 'rio-named', 'same'), 100),
    );
    assert.deepEqual([...named].sort(), ['exists', 'exists', 'exists', 'inserted']);
  });

  test('two servers firing one trigger at once: one firing stands per version', async () => {
    assert.equal(await repository().insertTrigger(trigger('trg_race', 'rex', 'raced')), true);
    for (let version = 0; version < 10; version++) {
      // Even rounds fire a scheduled time (the losers find it taken), odd ones a webhook (the
      // losers find the trigger changed).
      const scheduledAt = version % 2 === 0 ? `T${version}` : undefined;
      const claims = await race(4, (state, index) =>
        state.claimFiring(
          firing(`fir_race_${version}_${index}`, {
            trigger: 'trg_race',
            owner: 'rex',
            scheduledAt: scheduledAt ?? null,
            source: scheduledAt ? 'schedule' : 'webhook',
          }),
          { version, scheduledAt },
        ),
      );
      assert.equal(claims.filter((claim) => 'claimed' in claim).length, 1, `version ${version}`);
      const conflicts = claims.flatMap((claim) => ('conflict' in claim ? [claim.conflict] : []));
      assert.deepEqual(conflicts, Array(3).fill(scheduledAt ? 'taken' : 'changed'));
    }
    assert.equal((await second().getTriggerById('trg_race'))?.version, 10);
    assert.equal((await repository().listFirings({ trigger: 'trg_race', limit: 100 })).length, 10);
  });

  test('a webhook delivery raced by two servers is accepted once', async () => {
    await repository().insertTrigger(trigger('trg_race_hook', 'rex', 'hook'));
    for (let round = 0; round < 5; round++) {
      // The same two keys, in either order: one delivery is recorded, the others are replays.
      const accepted = await race(4, (state, index) =>
        state.recordDelivery(
          'trg_race_hook',
          index % 2 === 0 ? [`d-${round}`, `sig-${round}`] : [`sig-${round}`, `d-${round}`],
          '2026-01-01T00:00:00.000Z',
        ),
      );
      assert.equal(accepted.filter(Boolean).length, 1, `round ${round}`);
    }
  });
}
