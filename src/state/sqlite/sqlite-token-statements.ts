import { toToken } from '../rows/token-row.ts';
import type { TokenMethods } from '../state-method-groups.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

export function sqliteTokenStatements({ statement, prepared }: SqliteDatabase): TokenMethods {
  const insertToken = prepared(
    'INSERT INTO tokens (id, owner, name, hash, created_at, admin) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const tokenByHash = prepared('SELECT * FROM tokens WHERE hash = ?');
  return {
    async insertToken(token) {
      insertToken().run(
        token.id,
        token.owner,
        token.name,
        token.hash,
        token.createdAt,
        token.admin ? 1 : 0,
      );
    },
    async findTokenByHash(hash) {
      const row = tokenByHash().get(hash) as Row | undefined;
      return row && toToken(row);
    },
    async listTokens(owner) {
      const rows =
        owner === undefined
          ? statement('SELECT * FROM tokens ORDER BY created_at').all()
          : statement('SELECT * FROM tokens WHERE owner = ? ORDER BY created_at').all(owner);
      return (rows as Row[]).map(toToken);
    },
    async revokeToken(id, revokedAt) {
      const result = statement(
        'UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
      ).run(revokedAt, id);
      return Number(result.changes) > 0;
    },
  };
}
