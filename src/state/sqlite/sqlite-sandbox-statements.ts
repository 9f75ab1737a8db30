import { toSandbox } from '../rows/sandbox-row.ts';
import { toWorkspace } from '../rows/workspace-row.ts';
import type { SandboxMethods } from '../state-method-groups.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** Long-lived sandboxes, and the workspaces each owner has used. */
export function sqliteSandboxStatements({ statement, prepared }: SqliteDatabase): SandboxMethods {
  const upsertSandbox = prepared(
    `INSERT INTO sandboxes (owner, name, runtime_id, workspace, status, options, reason, created_at,
     last_active_at, host, server, runtime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (owner, name) DO UPDATE SET runtime_id = excluded.runtime_id,
     workspace = excluded.workspace, status = excluded.status, options = excluded.options,
     reason = excluded.reason, last_active_at = excluded.last_active_at, host = excluded.host,
     server = excluded.server, runtime = excluded.runtime
     WHERE ? IS NULL OR (sandboxes.host IS excluded.host AND sandboxes.server IS excluded.server
       AND sandboxes.status <> 'stopped') OR (? = 'starting' AND sandboxes.status = 'stopped')`,
  );
  const touchWorkspace = prepared(
    `INSERT INTO workspaces (owner, name, created_at, last_used_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (owner, name) DO UPDATE SET last_used_at = excluded.last_used_at`,
  );
  return {
    async upsertSandbox(sandbox, held) {
      const written = upsertSandbox().run(
        sandbox.owner,
        sandbox.name,
        sandbox.runtimeId,
        sandbox.workspace,
        sandbox.status,
        JSON.stringify(sandbox.options),
        sandbox.reason,
        sandbox.createdAt,
        sandbox.lastActiveAt,
        sandbox.host ?? null,
        sandbox.server ?? null,
        sandbox.runtime ?? 'namespace',
        held ?? null,
        held ?? null,
      );
      return Number(written.changes) > 0;
    },
    async getSandbox(owner, name) {
      const row = statement('SELECT * FROM sandboxes WHERE owner = ? AND name = ?').get(
        owner,
        name,
      ) as Row | undefined;
      return row && toSandbox(row);
    },
    async listSandboxes(owner) {
      const rows = statement('SELECT * FROM sandboxes WHERE owner = ? ORDER BY name').all(owner);
      return (rows as Row[]).map(toSandbox);
    },
    async deleteSandbox(owner, name) {
      statement('DELETE FROM sandboxes WHERE owner = ? AND name = ?').run(owner, name);
    },

    async touchWorkspace(owner, name, at) {
      touchWorkspace().run(owner, name, at, at);
    },
    async listWorkspaces(owner) {
      const rows = statement('SELECT * FROM workspaces WHERE owner = ? ORDER BY name').all(owner);
      return (rows as Row[]).map(toWorkspace);
    },
    async deleteWorkspace(owner, name) {
      statement('DELETE FROM workspaces WHERE owner = ? AND name = ?').run(owner, name);
    },
  };
}
