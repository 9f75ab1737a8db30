import type { SQLInputValue } from 'node:sqlite';
import { toFiring } from '../rows/firing-row.ts';
import { jsonText } from '../rows/row-values.ts';
import { toTrigger, triggerColumns } from '../rows/trigger-row.ts';
import type { TriggerMethods } from '../state-method-groups.ts';
import type { FiringClaim, FiringRecord } from '../state-repository.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** Firings kept per trigger (the newest; active ones always): a busy hook's history stays bounded. */
export const maxFiringsKept = 1000;

/** Triggers (their settings as one JSON column), their firings and the webhook deliveries seen. */
export function sqliteTriggerStatements({
  statement,
  prepared,
  transaction,
  updateColumns,
}: SqliteDatabase): TriggerMethods {
  const insertTrigger = prepared(
    `INSERT INTO triggers (id, owner, name, project, kind, spec, secret, paused, last_fired_at,
     next_fire_at, version, last_scheduled_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (owner, name) DO NOTHING`,
  );
  const triggerByRef = prepared(
    'SELECT * FROM triggers WHERE owner = ? AND (id = ? OR name = ?) ORDER BY id = ? DESC LIMIT 1',
  );
  const triggerById = prepared('SELECT * FROM triggers WHERE id = ?');
  const deleteTrigger = prepared('DELETE FROM triggers WHERE owner = ? AND id = ?');
  const deleteFirings = prepared('DELETE FROM trigger_firings WHERE trigger_id = ?');
  const deleteDeliveries = prepared('DELETE FROM webhook_deliveries WHERE trigger_id = ?');
  const insertFiring = prepared(
    `INSERT INTO trigger_firings (id, trigger_id, owner, at, scheduled_at, source, dedupe_key,
     status, reason, ticket_id, plan_id, payload, chain, repeats, reserved_usd, active)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const firingById = prepared('SELECT * FROM trigger_firings WHERE id = ?');
  const latestFiring = prepared(
    'SELECT * FROM trigger_firings WHERE trigger_id = ? ORDER BY seq DESC LIMIT 1',
  );
  const foldFiring = prepared(
    'UPDATE trigger_firings SET repeats = repeats + 1, at = ?, payload = ? WHERE id = ?',
  );
  // ISO times of one format (`toISOString`) order as text.
  const scheduledTaken = prepared(
    'SELECT 1 FROM triggers WHERE id = ? AND last_scheduled_at IS NOT NULL AND last_scheduled_at >= ?',
  );
  const claimTrigger = prepared(
    `UPDATE triggers SET version = version + 1, last_fired_at = ?, updated_at = ?,
     last_scheduled_at = coalesce(?, last_scheduled_at) WHERE id = ? AND version = ?`,
  );
  const pruneFirings = prepared(
    `DELETE FROM trigger_firings WHERE trigger_id = ? AND active = 0 AND seq <= (
       SELECT seq FROM trigger_firings WHERE trigger_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
  );
  const updateFiring = prepared(
    `UPDATE trigger_firings SET status = coalesce(?, status), reason = coalesce(?, reason),
     ticket_id = coalesce(?, ticket_id), plan_id = coalesce(?, plan_id),
     active = coalesce(?, active) WHERE id = ?`,
  );
  const countedFirings = prepared(
    `SELECT * FROM trigger_firings WHERE trigger_id = ? AND status = 'created' AND at >= ?
     UNION SELECT * FROM trigger_firings WHERE trigger_id = ? AND active = 1 ORDER BY seq DESC`,
  );
  const firingOfTicket = prepared(
    'SELECT * FROM trigger_firings WHERE ticket_id = ? ORDER BY seq LIMIT 1',
  );
  const firingOfPlan = prepared(
    'SELECT * FROM trigger_firings WHERE plan_id = ? ORDER BY seq LIMIT 1',
  );
  const insertDelivery = prepared(
    'INSERT INTO webhook_deliveries (trigger_id, delivery, signed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const pruneDeliveries = prepared(
    'DELETE FROM webhook_deliveries WHERE trigger_id = ? AND signed_at < ?',
  );
  const addFiring = (firing: FiringRecord) =>
    insertFiring().run(
      firing.id,
      firing.trigger,
      firing.owner,
      firing.at,
      firing.scheduledAt,
      firing.source,
      firing.key,
      firing.status,
      firing.reason,
      firing.ticket,
      firing.plan,
      jsonText(firing.payload),
      JSON.stringify(firing.chain),
      firing.repeats,
      firing.reservedUsd,
      firing.active ? 1 : 0,
    );
  return {
    async insertTrigger(trigger) {
      const result = insertTrigger().run(
        trigger.id,
        trigger.owner,
        trigger.name,
        trigger.project,
        trigger.kind,
        JSON.stringify(trigger.spec),
        trigger.secret,
        trigger.paused ? 1 : 0,
        trigger.lastFiredAt,
        trigger.nextFireAt,
        trigger.version,
        trigger.lastScheduledAt,
        trigger.createdAt,
        trigger.updatedAt,
      );
      return Number(result.changes) === 1;
    },
    async updateTrigger(id, update) {
      updateColumns('triggers', triggerColumns, update, { sql: 'id = ?', values: [id] });
    },
    async findTrigger(owner, idOrName) {
      const row = triggerByRef().get(owner, idOrName, idOrName, idOrName) as Row | undefined;
      return row && toTrigger(row);
    },
    async getTriggerById(id) {
      const row = triggerById().get(id) as Row | undefined;
      return row && toTrigger(row);
    },
    async listTriggers(filter = {}) {
      const where: string[] = [];
      const parameters: Record<string, SQLInputValue> = {};
      for (const key of ['owner', 'kind'] as const) {
        if (filter[key] === undefined) continue;
        where.push(`${key} = $${key}`);
        parameters[key] = filter[key];
      }
      const rows = statement(
        `SELECT * FROM triggers ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`,
      ).all(parameters) as Row[];
      return rows.map(toTrigger);
    },
    async deleteTrigger(owner, id) {
      let deleted = false;
      transaction(() => {
        deleted = Number(deleteTrigger().run(owner, id).changes) === 1;
        if (!deleted) return;
        deleteFirings().run(id);
        deleteDeliveries().run(id);
      });
      return deleted;
    },
    async insertFiring(firing) {
      addFiring(firing);
    },
    async claimFiring(firing, expected) {
      let outcome: FiringClaim = { conflict: 'changed' };
      transaction(() => {
        const scheduledAt = expected.scheduledAt ?? null;
        if (scheduledAt !== null && scheduledTaken().get(firing.trigger, scheduledAt)) {
          outcome = { conflict: 'taken' };
          return;
        }
        const claimed = claimTrigger().run(
          firing.at,
          firing.at,
          scheduledAt,
          firing.trigger,
          expected.version,
        );
        if (Number(claimed.changes) === 0) return;
        const latest = latestFiring().get(firing.trigger) as Row | undefined;
        const previous = latest && toFiring(latest);
        if (
          firing.status === 'skipped' &&
          previous?.status === 'skipped' &&
          previous.source === firing.source &&
          previous.reason === firing.reason
        ) {
          foldFiring().run(firing.at, jsonText(firing.payload), previous.id);
          outcome = { claimed: toFiring(firingById().get(previous.id) as Row) };
          return;
        }
        addFiring(firing);
        pruneFirings().run(firing.trigger, firing.trigger, maxFiringsKept);
        outcome = { claimed: firing };
      });
      return outcome;
    },
    async updateFiring(id, update) {
      const flag = update.active === undefined ? null : update.active ? 1 : 0;
      updateFiring().run(
        update.status ?? null,
        update.reason ?? null,
        update.ticket ?? null,
        update.plan ?? null,
        flag,
        id,
      );
    },
    async countedFirings(triggerId, since) {
      const rows = countedFirings().all(triggerId, since, triggerId) as Row[];
      return rows.map(toFiring);
    },
    async listFirings(filter) {
      const where = ['trigger_id = $trigger'];
      const parameters: Record<string, SQLInputValue> = {
        trigger: filter.trigger,
        limit: filter.limit,
      };
      if (filter.since !== undefined) {
        where.push('at >= $since');
        parameters.since = filter.since;
      }
      if (filter.status !== undefined) {
        where.push('status = $status');
        parameters.status = filter.status;
      }
      if (filter.key !== undefined) {
        where.push('dedupe_key = $key');
        parameters.key = filter.key;
      }
      const rows = statement(
        `SELECT * FROM trigger_firings WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $limit`,
      ).all(parameters) as Row[];
      return rows.map(toFiring);
    },
    async firingOfTicket(ticketId) {
      const row = firingOfTicket().get(ticketId) as Row | undefined;
      return row && toFiring(row);
    },
    async firingOfPlan(planId) {
      const row = firingOfPlan().get(planId) as Row | undefined;
      return row && toFiring(row);
    },
    async recordDelivery(triggerId, keys, at) {
      let fresh = true;
      try {
        transaction(() => {
          for (const key of keys) {
            if (Number(insertDelivery().run(triggerId, key, at).changes) === 0) {
              fresh = false;
              throw new Replayed();
            }
          }
        });
      } catch (error) {
        if (!(error instanceof Replayed)) throw error;
      }
      return fresh;
    },
    async pruneDeliveries(triggerId, before) {
      return Number(pruneDeliveries().run(triggerId, before).changes);
    },
  };
}

/** Rolls the delivery's transaction back: one of its keys was seen. */
class Replayed extends Error {}
