import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planRecord, projectRecord } from '../src/state/record-fixtures.ts';
import { createTestApp } from './helpers/test-app.ts';

test('an auto draft its server never approved settles at the next start, with a notice saying how to go on', async () => {
  const api = await createTestApp();
  try {
    const { repository, plans } = api.services;
    await repository.insertProject(projectRecord('webapp'));
    // Written with `auto`, then the server stopped before approving it (nothing else changes it).
    await repository.insertPlan(planRecord('pln_auto1', 'alice', 'webapp', { auto: true }));
    await repository.insertPlan(planRecord('pln_hand1', 'alice', 'webapp'));
    await plans.recover();
    const settled = await plans.get('alice', 'pln_auto1');
    assert.equal(settled.status, 'draft');
    assert.equal(settled.auto, false, 'no follower waits for a run that will not come');
    const notices = [];
    for await (const event of plans.events('alice', 'pln_auto1')) {
      if (event.data.type === 'notice') notices.push(event.data.message);
    }
    assert.deepEqual(notices, [
      'the server stopped before approving it automatically: approve it (mags plan approve pln_auto1)',
    ]);
    const untouched = await plans.get('alice', 'pln_hand1');
    assert.equal(untouched.updatedAt, '2026-01-01T00:00:00.000Z', 'a plain draft is left alone');
  } finally {
    await api.close();
  }
});
