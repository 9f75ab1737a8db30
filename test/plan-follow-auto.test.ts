/**
 * A plan created with `auto` is a draft for a moment (the planner's draft is stored under the
 * plan's lock, approval follows): the server's follower waits through it rather than ending the
 * stream at the draft, and ends once the plan is settled. `isPlanMoving` (the API's shared
 * predicate) and the SDK's `isPlanSettled` agree on it. A real SQLite repository and event log.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isPlanMoving, type PlanEvent, type PlanStatus, planStatuses } from '../src/api/plans.ts';
import { followPlanEvents, PlanEventLog } from '../src/plans/plan-event-log.ts';
import { isPlanSettled } from '../src/sdk/plan-events.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { PlanRecord, StateRepository } from '../src/state/state-repository.ts';

/** An event log that tells when a follower starts waiting for the next change. */
class WatchedEventLog extends PlanEventLog {
  waiting: () => void = () => {};
  override changed(
    planId: string,
    version: number,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<void> {
    this.waiting();
    return super.changed(planId, version, options);
  }
}

function planRecord(id: string, status: PlanStatus, auto: boolean): PlanRecord {
  const at = new Date().toISOString();
  const usage = { inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 };
  return {
    id,
    owner: 'alice',
    project: 'app',
    request: 'r',
    summary: 's',
    status,
    reason: null,
    model: null,
    auto,
    autoApprove: false,
    maxParallel: 4,
    budget: {},
    usage,
    tickets: [],
    baseCommit: null,
    integration: null,
    branch: null,
    commit: null,
    approvedAt: null,
    createdAt: at,
    updatedAt: at,
  };
}

describe('following an auto plan', () => {
  let directory: string;
  let repository: StateRepository;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-test-plan-follow-'));
    repository = createSqliteStateRepository(join(directory, 'state.db'));
  });
  after(() => rm(directory, { recursive: true, force: true }));

  /** Sets the plan's status as a transition does: its event first, then the record. */
  const move = async (log: PlanEventLog, id: string, from: PlanStatus, to: PlanStatus) => {
    await log.append(id, { type: 'plan_status', from, to, reason: null });
    await repository.updatePlan(id, { status: to });
    log.touch(id);
  };

  test('isPlanMoving and isPlanSettled: a draft with auto moves, one without is settled', () => {
    for (const status of planStatuses) {
      const moving = status === 'planning' || status === 'running' || status === 'integrating';
      assert.equal(isPlanMoving({ status, auto: false }), moving, status);
      assert.equal(isPlanSettled({ status, auto: false }), !moving, status);
    }
    assert.equal(isPlanMoving({ status: 'draft', auto: true }), true);
    assert.equal(isPlanSettled({ status: 'draft', auto: true }), false);
    assert.equal(isPlanMoving({ status: 'blocked', auto: true }), false);
  });

  test('the follower waits through an auto draft into its run, and ends when it is settled', async () => {
    const log = new WatchedEventLog(repository);
    await repository.insertPlan(planRecord('pln_auto1', 'draft', true));
    await log.append('pln_auto1', {
      type: 'plan_status',
      from: 'planning',
      to: 'draft',
      reason: null,
    });
    const waiting = new Promise<'waiting'>((resolve) => {
      log.waiting = () => resolve('waiting');
    });
    const seen: PlanEvent[] = [];
    const followed = (async () => {
      for await (const event of followPlanEvents(
        repository,
        log,
        { owner: 'alice', id: 'pln_auto1' },
        { follow: true },
      )) {
        seen.push(event);
      }
      return 'ended' as const;
    })();
    assert.equal(await Promise.race([waiting, followed]), 'waiting', 'not ended at the draft');
    await move(log, 'pln_auto1', 'draft', 'running');
    await move(log, 'pln_auto1', 'running', 'stopped');
    assert.equal(await followed, 'ended');
    assert.deepEqual(
      seen.map((event) => event.data.type === 'plan_status' && event.data.to),
      ['draft', 'running', 'stopped'],
    );
  });

  test('an auto draft whose approval failed (auto cleared) ends the stream at the draft', async () => {
    const log = new WatchedEventLog(repository);
    await repository.insertPlan(planRecord('pln_auto2', 'draft', true));
    const waiting = new Promise<'waiting'>((resolve) => {
      log.waiting = () => resolve('waiting');
    });
    const seen: PlanEvent[] = [];
    const followed = (async () => {
      for await (const event of followPlanEvents(
        repository,
        log,
        { owner: 'alice', id: 'pln_auto2' },
        { follow: true },
      )) {
        seen.push(event);
      }
      return 'ended' as const;
    })();
    assert.equal(await Promise.race([waiting, followed]), 'waiting', 'not ended at the draft');
    await repository.updatePlan('pln_auto2', { auto: false });
    await log.append('pln_auto2', { type: 'notice', message: 'not approved automatically' });
    assert.equal(await followed, 'ended');
    assert.deepEqual(
      seen.map((event) => event.data.type),
      ['notice'],
    );
  });
});
