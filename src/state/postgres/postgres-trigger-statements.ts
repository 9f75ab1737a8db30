import type postgres from 'postgres';
import { toFiring } from '../rows/firing-row.ts';
import { toTrigger, triggerColumns } from '../rows/trigger-row.ts';
import { maxFiringsKept } from '../sqlite/sqlite-trigger-statements.ts';
import type { TriggerMethods } from '../state-method-groups.ts';
import type { FiringRecord } from '../state-repository.ts';
import { columnValues } from './postgres-column-values.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { jsonText } from './postgres-row-values.ts';

/** Triggers (their settings as one JSON column), their firings and the webhook deliveries seen. */
export function postgresTriggerStatements({ sql }: PostgresDatabase): TriggerMethods {
  const addFiring = (queryable: postgres.Sql | postgres.TransactionSql, firing: FiringRecord) =>
    queryable`INSERT INTO trigger_firings (id, trigger_id, owner, at, scheduled_at, source,
      dedupe_key, status, reason, ticket_id, plan_id, payload, chain, repeats, reserved_usd, active)
      VALUES (${firing.id}, ${firing.trigger}, ${firing.owner}, ${firing.at}, ${firing.scheduledAt},
      ${firing.source}, ${firing.key}, ${firing.status}, ${firing.reason}, ${firing.ticket},
      ${firing.plan}, ${jsonText(firing.payload)}, ${JSON.stringify(firing.chain)},
      ${firing.repeats}, ${firing.reservedUsd}, ${firing.active})`;
  return {
    async insertTrigger(trigger) {
      const result = await sql`INSERT INTO triggers (id, owner, name, project, kind, spec, secret,
        paused, last_fired_at, next_fire_at, version, last_scheduled_at, created_at, updated_at)
        VALUES (${trigger.id}, ${trigger.owner}, ${trigger.name}, ${trigger.project},
        ${trigger.kind}, ${JSON.stringify(trigger.spec)}, ${trigger.secret}, ${trigger.paused},
        ${trigger.lastFiredAt}, ${trigger.nextFireAt}, ${trigger.version},
        ${trigger.lastScheduledAt}, ${trigger.createdAt}, ${trigger.updatedAt})
        ON CONFLICT (owner, name) DO NOTHING`;
      return result.count === 1;
    },
    async updateTrigger(id, update) {
      const values = columnValues('triggers', triggerColumns, update);
      if (Object.keys(values).length > 0)
        await sql`UPDATE triggers SET ${sql(values)} WHERE id = ${id}`;
    },
    async findTrigger(owner, idOrName) {
      const [row] = await sql`SELECT * FROM triggers
        WHERE owner = ${owner} AND (id = ${idOrName} OR name = ${idOrName})
        ORDER BY id = ${idOrName} DESC LIMIT 1`;
      return row && toTrigger(row);
    },
    async getTriggerById(id) {
      const [row] = await sql`SELECT * FROM triggers WHERE id = ${id}`;
      return row && toTrigger(row);
    },
    async listTriggers(filter = {}) {
      const rows = await sql`SELECT * FROM triggers WHERE true
        ${filter.owner === undefined ? sql`` : sql`AND owner = ${filter.owner}`}
        ${filter.kind === undefined ? sql`` : sql`AND kind = ${filter.kind}`}
        ORDER BY seq`;
      return rows.map(toTrigger);
    },
    async deleteTrigger(owner, id) {
      return sql.begin(async (transaction) => {
        const deleted =
          await transaction`DELETE FROM triggers WHERE owner = ${owner} AND id = ${id}`;
        if (deleted.count !== 1) return false;
        await transaction`DELETE FROM trigger_firings WHERE trigger_id = ${id}`;
        await transaction`DELETE FROM webhook_deliveries WHERE trigger_id = ${id}`;
        return true;
      });
    },
    async insertFiring(firing) {
      await addFiring(sql, firing);
    },
    async claimFiring(firing, expected) {
      const scheduledAt = expected.scheduledAt ?? null;
      return sql.begin(async (transaction) => {
        // The trigger's row lock, held to the end: a second server claiming at once waits here,
        // then reads the version (and scheduled time) the first one stored, as SQLite's single
        // writer would have it read them. ISO times of one format order as text.
        const [trigger] = await transaction`SELECT version,
            (last_scheduled_at IS NOT NULL AND last_scheduled_at >= ${scheduledAt}::text) AS taken
          FROM triggers WHERE id = ${firing.trigger} FOR UPDATE`;
        if (!trigger) return { conflict: 'changed' as const };
        if (scheduledAt !== null && trigger.taken === true) return { conflict: 'taken' as const };
        if (Number(trigger.version) !== expected.version) return { conflict: 'changed' as const };
        await transaction`UPDATE triggers SET version = version + 1, last_fired_at = ${firing.at},
          updated_at = ${firing.at},
          last_scheduled_at = coalesce(${scheduledAt}::text, last_scheduled_at)
          WHERE id = ${firing.trigger}`;
        const [latest] = await transaction`SELECT * FROM trigger_firings
          WHERE trigger_id = ${firing.trigger} ORDER BY seq DESC LIMIT 1`;
        const previous = latest && toFiring(latest);
        if (
          firing.status === 'skipped' &&
          previous?.status === 'skipped' &&
          previous.source === firing.source &&
          previous.reason === firing.reason
        ) {
          const [folded] = await transaction`UPDATE trigger_firings
            SET repeats = repeats + 1, at = ${firing.at}, payload = ${jsonText(firing.payload)}
            WHERE id = ${previous.id} RETURNING *`;
          return { claimed: toFiring(folded as postgres.Row) };
        }
        await addFiring(transaction, firing);
        await transaction`DELETE FROM trigger_firings
          WHERE trigger_id = ${firing.trigger} AND NOT active AND seq <= (
            SELECT seq FROM trigger_firings WHERE trigger_id = ${firing.trigger}
            ORDER BY seq DESC LIMIT 1 OFFSET ${maxFiringsKept})`;
        return { claimed: firing };
      });
    },
    async updateFiring(id, update) {
      await sql`UPDATE trigger_firings SET status = coalesce(${update.status ?? null}::text, status),
        reason = coalesce(${update.reason ?? null}::text, reason),
        ticket_id = coalesce(${update.ticket ?? null}::text, ticket_id),
        plan_id = coalesce(${update.plan ?? null}::text, plan_id),
        active = coalesce(${update.active ?? null}::boolean, active) WHERE id = ${id}`;
    },
    async countedFirings(triggerId, since) {
      const rows = await sql`SELECT * FROM trigger_firings WHERE trigger_id = ${triggerId}
        AND ((status = 'created' AND at >= ${since}) OR active) ORDER BY seq DESC`;
      return rows.map(toFiring);
    },
    async listFirings(filter) {
      const rows = await sql`SELECT * FROM trigger_firings WHERE trigger_id = ${filter.trigger}
        ${filter.since === undefined ? sql`` : sql`AND at >= ${filter.since}`}
        ${filter.status === undefined ? sql`` : sql`AND status = ${filter.status}`}
        ${filter.key === undefined ? sql`` : sql`AND dedupe_key = ${filter.key}`}
        ORDER BY seq DESC LIMIT ${filter.limit}`;
      return rows.map(toFiring);
    },
    async firingOfTicket(ticketId) {
      const [row] = await sql`SELECT * FROM trigger_firings WHERE ticket_id = ${ticketId}
        ORDER BY seq LIMIT 1`;
      return row && toFiring(row);
    },
    async firingOfPlan(planId) {
      const [row] = await sql`SELECT * FROM trigger_firings WHERE plan_id = ${planId}
        ORDER BY seq LIMIT 1`;
      return row && toFiring(row);
    },
    async recordDelivery(triggerId, keys, signedAt) {
      try {
        await sql.begin(async (transaction) => {
          // A key another server is recording makes this INSERT wait for its transaction, then
          // do nothing if it committed: a replay is refused on every server. In sorted order, so
          // two deliveries sharing keys never wait on each other in a cycle.
          for (const key of [...keys].sort()) {
            const inserted = await transaction`INSERT INTO webhook_deliveries
              (trigger_id, delivery, signed_at) VALUES (${triggerId}, ${key}, ${signedAt})
              ON CONFLICT DO NOTHING`;
            if (inserted.count === 0) throw new Replayed();
          }
        });
        return true;
      } catch (error) {
        if (error instanceof Replayed) return false;
        throw error;
      }
    },
    async pruneDeliveries(triggerId, before) {
      const pruned = await sql`DELETE FROM webhook_deliveries
        WHERE trigger_id = ${triggerId} AND signed_at < ${before}`;
      return pruned.count;
    },
  };
}

/** Rolls the delivery's transaction back: one of its keys was seen. */
class Replayed extends Error {}
