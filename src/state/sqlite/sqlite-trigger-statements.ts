import type { SQLInputValue } from 'node:sqlite';
import type {
  FiringRecord,
  StateRepository,
  TriggerRecord,
  TriggerSpec,
  TriggerUpdate,
} from '../state-repository.ts';
import { type Row, type SqliteDatabase, text } from './sqlite-database.ts';

type TriggerMethods = Pick<
  StateRepository,
  | 'insertTrigger'
  | 'updateTrigger'
  | 'findTrigger'
  | 'getTriggerById'
  | 'listTriggers'
  | 'deleteTrigger'
  | 'insertFiring'
  | 'listFirings'
  | 'firingOfTicket'
  | 'recordDelivery'
  | 'pruneDeliveries'
>;

/** Triggers (their settings as one JSON column), their firings and the webhook deliveries seen. */
export function sqliteTriggerStatements({
  statement,
  prepared,
  transaction,
  updateColumns,
}: SqliteDatabase): TriggerMethods {
  const insertTrigger = prepared(
    `INSERT INTO triggers (id, owner, name, project, kind, spec, secret, paused, last_fired_at,
     next_fire_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
     status, reason, ticket_id, plan_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const firingOfTicket = prepared(
    'SELECT * FROM trigger_firings WHERE ticket_id = ? ORDER BY seq LIMIT 1',
  );
  const insertDelivery = prepared(
    'INSERT INTO webhook_deliveries (trigger_id, delivery, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const pruneDeliveries = prepared(
    'DELETE FROM webhook_deliveries WHERE trigger_id = ? AND at < ?',
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
        firing.payload === null || firing.payload === undefined
          ? null
          : JSON.stringify(firing.payload),
      );
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

const triggerColumns: Record<keyof TriggerUpdate, string> = {
  paused: 'paused',
  lastFiredAt: 'last_fired_at',
  nextFireAt: 'next_fire_at',
  secret: 'secret',
  updatedAt: 'updated_at',
};

function toTrigger(row: Row): TriggerRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    name: String(row.name),
    project: String(row.project),
    kind: row.kind as TriggerRecord['kind'],
    spec: JSON.parse(String(row.spec)) as TriggerSpec,
    secret: text(row.secret),
    paused: Number(row.paused) === 1,
    lastFiredAt: text(row.last_fired_at),
    nextFireAt: text(row.next_fire_at),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

function toFiring(row: Row): FiringRecord {
  return {
    id: String(row.id),
    trigger: String(row.trigger_id),
    owner: String(row.owner),
    at: String(row.at),
    scheduledAt: text(row.scheduled_at),
    source: row.source as FiringRecord['source'],
    key: text(row.dedupe_key),
    status: row.status as FiringRecord['status'],
    reason: text(row.reason),
    ticket: text(row.ticket_id),
    plan: text(row.plan_id),
    payload: row.payload === null ? null : JSON.parse(String(row.payload)),
  };
}
