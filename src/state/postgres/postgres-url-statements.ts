import { toSandboxUrl } from '../rows/sandbox-url-row.ts';
import type { UrlMethods } from '../state-method-groups.ts';
import type { PostgresDatabase } from './postgres-database.ts';

/** URLs to sandboxes' ports (sqlite-url-statements.ts, the same behaviour). */
export function postgresUrlStatements({ sql }: PostgresDatabase): UrlMethods {
  return {
    async insertSandboxUrl(url) {
      await sql`INSERT INTO sandbox_urls (id, owner, sandbox, sandbox_created_at, port, public,
        host_label, created_at, expires_at, revoked_at)
        VALUES (${url.id}, ${url.owner}, ${url.sandbox}, ${url.sandboxCreatedAt}, ${url.port},
        ${url.public}, ${url.hostLabel}, ${url.createdAt}, ${url.expiresAt}, ${url.revokedAt})`;
    },
    async getSandboxUrl(id) {
      const [row] = await sql`SELECT * FROM sandbox_urls WHERE id = ${id}`;
      return row && toSandboxUrl(row);
    },
    async listSandboxUrls(owner, sandbox) {
      const rows = await sql`SELECT * FROM sandbox_urls WHERE owner = ${owner}
        ${sandbox === undefined ? sql`` : sql`AND sandbox = ${sandbox}`}
        AND revoked_at IS NULL ORDER BY created_at, id`;
      return rows.map(toSandboxUrl);
    },
    async findSandboxUrlsByHostLabel(hostLabel) {
      const rows = await sql`SELECT * FROM sandbox_urls WHERE host_label = ${hostLabel}
        AND revoked_at IS NULL ORDER BY created_at, id`;
      return rows.map(toSandboxUrl);
    },
    async revokeSandboxUrl(owner, id, revokedAt) {
      const result = await sql`UPDATE sandbox_urls SET revoked_at = ${revokedAt}
        WHERE id = ${id} AND owner = ${owner} AND revoked_at IS NULL`;
      return result.count > 0;
    },
    async deleteSandboxUrlsEndedBefore(endedBefore) {
      const result = await sql`DELETE FROM sandbox_urls
        WHERE revoked_at < ${endedBefore} OR expires_at < ${endedBefore}`;
      return result.count;
    },
  };
}
