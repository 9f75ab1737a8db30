import { toSandboxUrl } from '../rows/sandbox-url-row.ts';
import type { UrlMethods } from '../state-method-groups.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** URLs to sandboxes' ports (migration 12). */
export function sqliteUrlStatements({ statement, prepared }: SqliteDatabase): UrlMethods {
  const byId = prepared('SELECT * FROM sandbox_urls WHERE id = ?');
  const byHostLabel = prepared(
    'SELECT * FROM sandbox_urls WHERE host_label = ? AND revoked_at IS NULL ORDER BY created_at, id',
  );
  return {
    async insertSandboxUrl(url) {
      statement(
        `INSERT INTO sandbox_urls (id, owner, sandbox, sandbox_created_at, port, public, host_label,
           created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        url.id,
        url.owner,
        url.sandbox,
        url.sandboxCreatedAt,
        url.port,
        url.public ? 1 : 0,
        url.hostLabel,
        url.createdAt,
        url.expiresAt,
        url.revokedAt,
      );
    },
    async getSandboxUrl(id) {
      const row = byId().get(id) as Row | undefined;
      return row && toSandboxUrl(row);
    },
    async listSandboxUrls(owner, sandbox) {
      const rows =
        sandbox === undefined
          ? statement(
              'SELECT * FROM sandbox_urls WHERE owner = ? AND revoked_at IS NULL ORDER BY created_at, id',
            ).all(owner)
          : statement(
              'SELECT * FROM sandbox_urls WHERE owner = ? AND sandbox = ? AND revoked_at IS NULL ORDER BY created_at, id',
            ).all(owner, sandbox);
      return (rows as Row[]).map(toSandboxUrl);
    },
    async findSandboxUrlsByHostLabel(hostLabel) {
      return (byHostLabel().all(hostLabel) as Row[]).map(toSandboxUrl);
    },
    async revokeSandboxUrl(owner, id, revokedAt) {
      const result = statement(
        'UPDATE sandbox_urls SET revoked_at = ? WHERE id = ? AND owner = ? AND revoked_at IS NULL',
      ).run(revokedAt, id, owner);
      return Number(result.changes) > 0;
    },
    async deleteSandboxUrlsEndedBefore(endedBefore) {
      const result = statement(
        'DELETE FROM sandbox_urls WHERE revoked_at < ? OR expires_at < ?',
      ).run(endedBefore, endedBefore);
      return Number(result.changes);
    },
  };
}
