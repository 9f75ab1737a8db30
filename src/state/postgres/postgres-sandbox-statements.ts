import { toSandbox } from '../rows/sandbox-row.ts';
import { toWorkspace } from '../rows/workspace-row.ts';
import type { SandboxMethods } from '../state-method-groups.ts';
import type { PostgresDatabase } from './postgres-database.ts';

/**
 * Long-lived sandboxes, and the workspaces each owner has used (sqlite-sandbox-statements.ts,
 * the same behaviour). Both writes are one upsert statement: atomic with any other process's.
 */
export function postgresSandboxStatements({ sql }: PostgresDatabase): SandboxMethods {
  return {
    async upsertSandbox(sandbox, held) {
      const written =
        await sql`INSERT INTO sandboxes (owner, name, runtime_id, workspace, status, options, reason,
        created_at, last_active_at, host, server, runtime)
        VALUES (${sandbox.owner}, ${sandbox.name}, ${sandbox.runtimeId}, ${sandbox.workspace},
        ${sandbox.status}, ${JSON.stringify(sandbox.options)}, ${sandbox.reason},
        ${sandbox.createdAt}, ${sandbox.lastActiveAt}, ${sandbox.host ?? null},
        ${sandbox.server ?? null}, ${sandbox.runtime ?? 'namespace'})
        ON CONFLICT (owner, name) DO UPDATE SET runtime_id = excluded.runtime_id,
        workspace = excluded.workspace, status = excluded.status, options = excluded.options,
        reason = excluded.reason, last_active_at = excluded.last_active_at, host = excluded.host,
        server = excluded.server, runtime = excluded.runtime
        ${
          held === undefined
            ? sql``
            : sql`WHERE (sandboxes.host IS NOT DISTINCT FROM excluded.host
                AND sandboxes.server IS NOT DISTINCT FROM excluded.server
                AND sandboxes.status <> 'stopped')
              OR (${held === 'starting'} AND sandboxes.status = 'stopped')`
        }`;
      return written.count > 0;
    },
    async getSandbox(owner, name) {
      const [row] = await sql`SELECT * FROM sandboxes WHERE owner = ${owner} AND name = ${name}`;
      return row && toSandbox(row);
    },
    async listSandboxes(owner) {
      const rows = await sql`SELECT * FROM sandboxes WHERE owner = ${owner} ORDER BY name`;
      return rows.map(toSandbox);
    },
    async deleteSandbox(owner, name) {
      await sql`DELETE FROM sandboxes WHERE owner = ${owner} AND name = ${name}`;
    },

    async touchWorkspace(owner, name, at) {
      await sql`INSERT INTO workspaces (owner, name, created_at, last_used_at)
        VALUES (${owner}, ${name}, ${at}, ${at})
        ON CONFLICT (owner, name) DO UPDATE SET last_used_at = excluded.last_used_at`;
    },
    async listWorkspaces(owner) {
      const rows = await sql`SELECT * FROM workspaces WHERE owner = ${owner} ORDER BY name`;
      return rows.map(toWorkspace);
    },
    async deleteWorkspace(owner, name) {
      await sql`DELETE FROM workspaces WHERE owner = ${owner} AND name = ${name}`;
    },
  };
}
