import type { PlanEvidence } from '../../api/plans.ts';
import { planColumns, planJsonColumns, toPlan, toPlanEvent } from '../rows/plan-row.ts';
import type { PlanMethods } from '../state-method-groups.ts';
import { type ColumnValue, columnValues } from './postgres-column-values.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { jsonText, safeInteger } from './postgres-row-values.ts';

/** Plans (their tickets as one JSON column: a plan is read and written whole), events, evidence, bundles. */
export function postgresPlanStatements({ sql }: PostgresDatabase): PlanMethods {
  return {
    async insertPlan(plan) {
      await sql`INSERT INTO plans (id, owner, project, request, summary, status, reason, model,
        auto, auto_approve, max_parallel, budget, usage, tickets, base_commit, integration, branch,
        commit_id, approved_at, host, server, created_at, updated_at)
        VALUES (${plan.id}, ${plan.owner}, ${plan.project}, ${plan.request}, ${plan.summary},
        ${plan.status}, ${plan.reason}, ${plan.model}, ${plan.auto}, ${plan.autoApprove},
        ${plan.maxParallel}, ${JSON.stringify(plan.budget)}, ${JSON.stringify(plan.usage)},
        ${JSON.stringify(plan.tickets)}, ${plan.baseCommit}, ${jsonText(plan.integration)},
        ${plan.branch}, ${plan.commit}, ${plan.approvedAt}, ${plan.host ?? null},
        ${plan.server ?? null}, ${plan.createdAt}, ${plan.updatedAt})`;
    },
    async updatePlan(id, update) {
      const values = columnValues('plans', planColumns, update, (column, value) =>
        planJsonColumns.has(column) ? jsonText(value) : (value as ColumnValue),
      );
      if (Object.keys(values).length > 0)
        await sql`UPDATE plans SET ${sql(values)} WHERE id = ${id}`;
    },
    async getPlan(owner, id) {
      const [row] = await sql`SELECT * FROM plans WHERE owner = ${owner} AND id = ${id}`;
      return row && toPlan(row);
    },
    async listPlans(filter) {
      const rows = await sql`SELECT * FROM plans WHERE owner = ${filter.owner}
        ${filter.project === undefined ? sql`` : sql`AND project = ${filter.project}`}
        ${filter.status === undefined ? sql`` : sql`AND status = ${filter.status}`}
        ORDER BY seq DESC`;
      return rows.map(toPlan);
    },
    async plansInStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = await sql`SELECT * FROM plans WHERE status IN ${sql(statuses)} ORDER BY seq`;
      return rows.map(toPlan);
    },
    async appendPlanEvent(planId, event) {
      const data = JSON.stringify(event.data);
      // As for ticket events (postgres-ticket-event-statements.ts): one statement, tried again
      // when another server took the id first.
      for (;;) {
        const [row] = await sql`INSERT INTO plan_events (plan_id, id, at, data)
          SELECT ${planId}, COALESCE(MAX(id), 0) + 1, ${event.at}, ${data}
          FROM plan_events WHERE plan_id = ${planId}
          ON CONFLICT (plan_id, id) DO NOTHING RETURNING id`;
        if (row) return { id: Number(row.id), at: event.at, data: event.data };
      }
    },
    async readPlanEvents(planId, afterId, limit) {
      const rows = await sql`SELECT id, at, data FROM plan_events
        WHERE plan_id = ${planId} AND id > ${safeInteger(afterId)}::bigint ORDER BY id
        LIMIT ${safeInteger(limit)}::bigint`;
      return rows.map(toPlanEvent);
    },
    async lastPlanEventId(planId) {
      const [row] =
        await sql`SELECT COALESCE(MAX(id), 0) AS id FROM plan_events WHERE plan_id = ${planId}`;
      return Number(row?.id);
    },
    async putPlanEvidence(evidence) {
      await sql`INSERT INTO plan_evidence (plan_id, evidence)
        VALUES (${evidence.plan}, ${JSON.stringify(evidence)})
        ON CONFLICT (plan_id) DO UPDATE SET evidence = excluded.evidence`;
    },
    async getPlanEvidence(planId) {
      const [row] = await sql`SELECT evidence FROM plan_evidence WHERE plan_id = ${planId}`;
      return row && (JSON.parse(String(row.evidence)) as PlanEvidence);
    },
    async putPlanBundle(planId, bundle) {
      await sql`INSERT INTO plan_bundles (plan_id, bundle) VALUES (${planId}, ${bundle})
        ON CONFLICT (plan_id) DO UPDATE SET bundle = excluded.bundle`;
    },
    async getPlanBundle(planId) {
      const [row] = await sql`SELECT bundle FROM plan_bundles WHERE plan_id = ${planId}`;
      return row && (row.bundle as Buffer);
    },
  };
}
