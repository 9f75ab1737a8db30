import { toToken } from '../rows/token-row.ts';
import type { TokenMethods } from '../state-method-groups.ts';
import type { PostgresDatabase } from './postgres-database.ts';

/** API tokens (sqlite-token-statements.ts, the same behaviour). */
export function postgresTokenStatements({ sql }: PostgresDatabase): TokenMethods {
  return {
    async insertToken(token) {
      await sql`INSERT INTO tokens (id, owner, name, hash, created_at, admin)
        VALUES (${token.id}, ${token.owner}, ${token.name}, ${token.hash}, ${token.createdAt},
        ${token.admin})`;
    },
    async findTokenByHash(hash) {
      const [row] = await sql`SELECT * FROM tokens WHERE hash = ${hash}`;
      return row && toToken(row);
    },
    async listTokens(owner) {
      const rows =
        owner === undefined
          ? await sql`SELECT * FROM tokens ORDER BY created_at`
          : await sql`SELECT * FROM tokens WHERE owner = ${owner} ORDER BY created_at`;
      return rows.map(toToken);
    },
    async revokeToken(id, revokedAt) {
      const result = await sql`UPDATE tokens SET revoked_at = ${revokedAt}
        WHERE id = ${id} AND revoked_at IS NULL`;
      return result.count > 0;
    },
  };
}
