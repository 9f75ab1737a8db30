import type { SQLInputValue } from 'node:sqlite';
import type { PlanEvidence } from '../../api/plans.ts';
import { planColumns, planJsonColumns, toPlan, toPlanEvent } from '../rows/plan-row.ts';
import type { PlanMethods } from '../state-method-groups.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** Plans (their tickets as one JSON column: a plan is read and written whole), events, evidence, bundles. */
export function sqlitePlanStatements({
  statement,
  prepared,
  transaction,
  updateColumns,
}: SqliteDatabase): PlanMethods {
  const insertPlan = prepared(
    `INSERT INTO plans (id, owner, project, request, summary, status, reason, model, auto,
     auto_approve, max_parallel, budget, usage, tickets, base_commit, integration, branch,
     commit_id, approved_at, host, server, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const planById = prepared('SELECT * FROM plans WHERE owner = ? AND id = ?');
  const lastEventId = prepared(
    'SELECT COALESCE(MAX(id), 0) AS id FROM plan_events WHERE plan_id = ?',
  );
  const insertEvent = prepared(
    'INSERT INTO plan_events (plan_id, id, at, data) VALUES (?, ?, ?, ?)',
  );
  const readEvents = prepared(
    'SELECT id, at, data FROM plan_events WHERE plan_id = ? AND id > ? ORDER BY id LIMIT ?',
  );
  const putEvidence = prepared(
    `INSERT INTO plan_evidence (plan_id, evidence) VALUES (?, ?)
     ON CONFLICT (plan_id) DO UPDATE SET evidence = excluded.evidence`,
  );
  const evidenceOf = prepared('SELECT evidence FROM plan_evidence WHERE plan_id = ?');
  const putBundle = prepared(
    `INSERT INTO plan_bundles (plan_id, bundle) VALUES (?, ?)
     ON CONFLICT (plan_id) DO UPDATE SET bundle = excluded.bundle`,
  );
  const bundleOf = prepared('SELECT bundle FROM plan_bundles WHERE plan_id = ?');
  return {
    async insertPlan(plan) {
      insertPlan().run(
        plan.id,
        plan.owner,
        plan.project,
        plan.request,
        plan.summary,
        plan.status,
        plan.reason,
        plan.model,
        plan.auto ? 1 : 0,
        plan.autoApprove ? 1 : 0,
        plan.maxParallel,
        JSON.stringify(plan.budget),
        JSON.stringify(plan.usage),
        JSON.stringify(plan.tickets),
        plan.baseCommit,
        plan.integration === null ? null : JSON.stringify(plan.integration),
        plan.branch,
        plan.commit,
        plan.approvedAt,
        plan.host ?? null,
        plan.server ?? null,
        plan.createdAt,
        plan.updatedAt,
      );
    },
    async updatePlan(id, update) {
      updateColumns('plans', planColumns, update, { sql: 'id = ?', values: [id] }, toColumnValue);
    },
    async getPlan(owner, id) {
      const row = planById().get(owner, id) as Row | undefined;
      return row && toPlan(row);
    },
    async listPlans(filter) {
      const where = ['owner = $owner'];
      const parameters: Record<string, SQLInputValue> = { owner: filter.owner };
      for (const key of ['project', 'status'] as const) {
        if (filter[key] === undefined) continue;
        where.push(`${key} = $${key}`);
        parameters[key] = filter[key];
      }
      const rows = statement(
        `SELECT * FROM plans WHERE ${where.join(' AND ')} ORDER BY seq DESC`,
      ).all(parameters) as Row[];
      return rows.map(toPlan);
    },
    async plansInStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = statement(
        `SELECT * FROM plans WHERE status IN (${statuses.map(() => '?').join(', ')}) ORDER BY seq`,
      ).all(...statuses) as Row[];
      return rows.map(toPlan);
    },
    async appendPlanEvent(planId, event) {
      let id = 0;
      // As for ticket events: the write lock is taken before the last id is read.
      transaction(() => {
        id = Number((lastEventId().get(planId) as Row).id) + 1;
        insertEvent().run(planId, id, event.at, JSON.stringify(event.data));
      });
      return { id, at: event.at, data: event.data };
    },
    async readPlanEvents(planId, afterId, limit) {
      const rows = readEvents().all(planId, afterId, limit) as Row[];
      return rows.map(toPlanEvent);
    },
    async lastPlanEventId(planId) {
      return Number((lastEventId().get(planId) as Row).id);
    },
    async putPlanEvidence(evidence) {
      putEvidence().run(evidence.plan, JSON.stringify(evidence));
    },
    async getPlanEvidence(planId) {
      const row = evidenceOf().get(planId) as Row | undefined;
      return row && (JSON.parse(String(row.evidence)) as PlanEvidence);
    },
    async putPlanBundle(planId, bundle) {
      putBundle().run(planId, bundle);
    },
    async getPlanBundle(planId) {
      const row = bundleOf().get(planId) as Row | undefined;
      if (!row) return undefined;
      const data = row.bundle as Uint8Array;
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    },
  };
}

const booleanColumns = new Set(['auto', 'auto_approve']);

function toColumnValue(column: string, value: unknown): SQLInputValue {
  if (value === null) return null;
  if (planJsonColumns.has(column)) return JSON.stringify(value);
  if (booleanColumns.has(column)) return value ? 1 : 0;
  return value as SQLInputValue;
}
