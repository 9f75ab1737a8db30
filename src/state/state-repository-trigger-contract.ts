import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FiringRecord, StateRepository, TriggerRecord } from './state-repository.ts';

/**
 * The triggers part of the state contract: triggers per owner with unique names, their firings
 * (filtered, newest first, found by ticket) and webhook deliveries (a replay recorded nothing).
 * Every implementation of `StateRepository` runs it.
 */
export function runTriggerStateContract(options: {
  name: string;
  createRepository: () => Promise<StateRepository>;
}): void {
  let state: StateRepository;
  before(async () => {
    state = await options.createRepository();
  });
  after(() => state.close());
  const title = (text: string) => `${options.name} triggers: ${text}`;

  test(title('names are unique per owner; another owner finds nothing'), async () => {
    assert.equal(await state.insertTrigger(trigger('trg_a1', 'ann', 'nightly')), true);
    assert.equal(await state.insertTrigger(trigger('trg_a2', 'ann', 'nightly')), false);
    assert.equal(await state.insertTrigger(trigger('trg_b1', 'bea', 'nightly')), true);
    assert.equal((await state.findTrigger('ann', 'nightly'))?.id, 'trg_a1');
    assert.equal((await state.findTrigger('ann', 'trg_a1'))?.name, 'nightly');
    assert.equal(await state.findTrigger('ann', 'trg_b1'), undefined);
    assert.equal(await state.findTrigger('bea', 'trg_a1'), undefined);
    assert.equal((await state.getTriggerById('trg_b1'))?.owner, 'bea');
    assert.deepEqual(
      (await state.listTriggers({ owner: 'ann' })).map((each) => each.id),
      ['trg_a1'],
    );
    const everyone = (await state.listTriggers({ kind: 'schedule' })).map((each) => each.id);
    assert.ok(everyone.includes('trg_a1') && everyone.includes('trg_b1'));
    assert.deepEqual((await state.findTrigger('ann', 'nightly'))?.spec.schedule, {
      cron: '* * * * * *',
      timezone: 'UTC',
      catchUp: 'skip',
    });
  });

  test(title('updates change only what they name'), async () => {
    await state.insertTrigger(trigger('trg_u1', 'ann', 'updated'));
    await state.updateTrigger('trg_u1', { paused: true, nextFireAt: 'next', updatedAt: 'later' });
    const updated = await state.findTrigger('ann', 'trg_u1');
    assert.deepEqual(
      [updated?.paused, updated?.nextFireAt, updated?.lastFiredAt, updated?.updatedAt],
      [true, 'next', null, 'later'],
    );
    await state.updateTrigger('trg_u1', { paused: false, nextFireAt: null });
    const resumed = await state.findTrigger('ann', 'trg_u1');
    assert.deepEqual([resumed?.paused, resumed?.nextFireAt], [false, null]);
  });

  test(
    title('firings: newest first, filtered by time, status and key, found by ticket'),
    async () => {
      await state.insertTrigger(trigger('trg_f1', 'ann', 'firing'));
      await state.insertFiring(firing('fir_1', { at: '2026-01-01T10:00:00.000Z', key: 'k1' }));
      await state.insertFiring(
        firing('fir_2', { at: '2026-01-02T10:00:00.000Z', status: 'skipped', ticket: null }),
      );
      await state.insertFiring(
        firing('fir_3', { at: '2026-01-02T11:00:00.000Z', key: 'k1', ticket: 'tkt_3' }),
      );
      const ids = async (filter: Partial<Parameters<StateRepository['listFirings']>[0]>) =>
        (await state.listFirings({ trigger: 'trg_f1', limit: 10, ...filter })).map(
          (each) => each.id,
        );
      assert.deepEqual(await ids({}), ['fir_3', 'fir_2', 'fir_1']);
      assert.deepEqual(await ids({ limit: 1 }), ['fir_3']);
      assert.deepEqual(await ids({ since: '2026-01-02T00:00:00.000Z' }), ['fir_3', 'fir_2']);
      assert.deepEqual(await ids({ status: 'skipped' }), ['fir_2']);
      assert.deepEqual(await ids({ key: 'k1' }), ['fir_3', 'fir_1']);
      const found = await state.firingOfTicket('tkt_3');
      assert.deepEqual([found?.id, found?.payload], ['fir_3', { issue: { number: 7 } }]);
      assert.equal(await state.firingOfTicket('tkt_none'), undefined);
    },
  );

  test(
    title('a delivery seen before is refused and records nothing; pruning forgets old ones'),
    async () => {
      await state.insertTrigger(trigger('trg_d1', 'ann', 'hook'));
      assert.equal(
        await state.recordDelivery('trg_d1', ['d-1', 'sig-1'], '2026-01-01T00:00:00Z'),
        true,
      );
      assert.equal(
        await state.recordDelivery('trg_d1', ['d-1', 'sig-2'], '2026-01-01T00:01:00Z'),
        false,
      );
      // sig-2 was not kept by the refused delivery: a new delivery with it is fresh.
      assert.equal(
        await state.recordDelivery('trg_d1', ['d-2', 'sig-2'], '2026-01-01T00:02:00Z'),
        true,
      );
      assert.equal(
        await state.recordDelivery('trg_d1', ['d-3', 'sig-1'], '2026-01-01T00:03:00Z'),
        false,
      );
      // Another trigger's deliveries are its own.
      assert.equal(await state.recordDelivery('trg_a1', ['d-1'], '2026-01-01T00:00:00Z'), true);
      assert.equal(await state.pruneDeliveries('trg_d1', '2026-01-01T00:01:30Z'), 2);
      assert.equal(await state.recordDelivery('trg_d1', ['d-1'], '2026-01-01T00:04:00Z'), true);
    },
  );

  test(
    title('claims: a stale version or a taken scheduled time stores nothing; like skips fold'),
    async () => {
      await state.insertTrigger(trigger('trg_c1', 'ann', 'claimed'));
      const claim = (id: string, fields: Partial<FiringRecord>, version: number, at?: string) =>
        state.claimFiring(firing(id, { trigger: 'trg_c1', ...fields }), {
          version,
          scheduledAt: at,
        });
      const first = await claim('fir_c1', { scheduledAt: 'T1' }, 0, 'T1');
      assert.equal('claimed' in first && first.claimed.id, 'fir_c1');
      // A second server that read version 0 decided on stale state: nothing is stored.
      assert.deepEqual(await claim('fir_c2', {}, 0), { conflict: 'changed' });
      // The same scheduled time (or an earlier one) is another server's already.
      assert.deepEqual(await claim('fir_c3', {}, 1, 'T1'), { conflict: 'taken' });
      assert.deepEqual(await claim('fir_c3', {}, 1, 'T0'), { conflict: 'taken' });
      const after = await state.getTriggerById('trg_c1');
      assert.deepEqual([after?.version, after?.lastScheduledAt], [1, 'T1']);
      const skip = { status: 'skipped' as const, ticket: null, reason: 'paused' };
      await claim('fir_s1', { ...skip, at: 'A1' }, 1);
      const folded = await claim('fir_s2', { ...skip, at: 'A2' }, 2);
      assert.deepEqual('claimed' in folded && [folded.claimed.id, folded.claimed.repeats], [
        'fir_s1',
        2,
      ]);
      await claim('fir_s3', { ...skip, reason: 'another reason' }, 3);
      const listed = await state.listFirings({ trigger: 'trg_c1', limit: 10 });
      assert.deepEqual(
        listed.map((each) => [each.id, each.repeats, each.at]),
        [
          ['fir_s3', 1, '2026-01-01T00:00:00.000Z'],
          ['fir_s1', 2, 'A2'],
          ['fir_c1', 1, '2026-01-01T00:00:00.000Z'],
        ],
      );
    },
  );

  test(
    title('counted firings: created since the day began, and active ones of any day'),
    async () => {
      await state.insertTrigger(trigger('trg_n1', 'ann', 'counted'));
      const add = (id: string, fields: Partial<FiringRecord>) =>
        state.insertFiring(firing(id, { trigger: 'trg_n1', ...fields }));
      await add('fir_n1', { at: '2026-01-01T10:00:00.000Z' });
      await add('fir_n2', { at: '2026-01-01T11:00:00.000Z', active: true, reservedUsd: 2 });
      await add('fir_n3', { at: '2026-01-02T01:00:00.000Z' });
      await add('fir_n4', { at: '2026-01-02T02:00:00.000Z', status: 'skipped' });
      const counted = await state.countedFirings('trg_n1', '2026-01-02T00:00:00.000Z');
      assert.deepEqual(
        counted.map((each) => [each.id, each.active, each.reservedUsd]),
        [
          ['fir_n3', false, null],
          ['fir_n2', true, 2],
        ],
      );
      await state.updateFiring('fir_n2', { active: false });
      const later = await state.countedFirings('trg_n1', '2026-01-02T00:00:00.000Z');
      assert.deepEqual(
        later.map((each) => each.id),
        ['fir_n3'],
      );
    },
  );

  test(title('deleting takes its firings and deliveries; another owner cannot'), async () => {
    await state.insertTrigger(trigger('trg_x1', 'ann', 'doomed'));
    await state.insertFiring(firing('fir_x1', { trigger: 'trg_x1', ticket: 'tkt_x1' }));
    await state.recordDelivery('trg_x1', ['d-x'], 'now');
    assert.equal(await state.deleteTrigger('bea', 'trg_x1'), false);
    assert.equal(await state.deleteTrigger('ann', 'trg_x1'), true);
    assert.equal(await state.findTrigger('ann', 'doomed'), undefined);
    assert.equal(await state.firingOfTicket('tkt_x1'), undefined);
    assert.equal(await state.recordDelivery('trg_x1', ['d-x'], 'now'), true);
    assert.equal(await state.deleteTrigger('ann', 'trg_x1'), false);
  });
}

export function trigger(id: string, owner: string, name: string): TriggerRecord {
  return {
    id,
    owner,
    name,
    project: 'app',
    kind: 'schedule',
    spec: {
      creates: 'ticket',
      template: '---\ntitle: t\ncriteria: [{text: ok}]\n---\nDo it.',
      schedule: { cron: '* * * * * *', timezone: 'UTC', catchUp: 'skip' },
      event: null,
      allowOverlap: false,
      maxConcurrent: 1,
      dailyBudgetUsd: null,
      maxFiringsPerDay: null,
      autoApprove: false,
      dedupeKey: null,
    },
    secret: null,
    paused: false,
    lastFiredAt: null,
    nextFireAt: null,
    version: 0,
    lastScheduledAt: null,
    createdAt: 'then',
    updatedAt: 'then',
  };
}

export function firing(id: string, fields: Partial<FiringRecord>): FiringRecord {
  return {
    id,
    trigger: 'trg_f1',
    owner: 'ann',
    at: '2026-01-01T00:00:00.000Z',
    scheduledAt: null,
    source: 'webhook',
    key: null,
    status: 'created',
    reason: null,
    ticket: `tkt_${id}`,
    plan: null,
    payload: { issue: { number: 7 } },
    chain: ['trg_f1'],
    repeats: 1,
    reservedUsd: null,
    active: false,
    ...fields,
  };
}
