import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openPostgresDatabase } from './postgres-database.ts';
import { createTestPostgresDatabase } from './postgres-test-database.ts';

const database = await createTestPostgresDatabase();

if ('skip' in database) {
  test('BIGINT values come back as numbers, and one beyond 2^53 fails', {
    skip: database.skip,
  }, () => {});
} else {
  after(() => database.drop());

  test('BIGINT values come back as numbers, and one beyond 2^53 fails', async () => {
    const { sql } = await openPostgresDatabase(database.url);
    try {
      const [row] = await sql`SELECT 9007199254740991::bigint AS largest, COUNT(*) AS jobs
        FROM jobs`;
      assert.deepEqual({ ...row }, { largest: Number.MAX_SAFE_INTEGER, jobs: 0 });
      // A row goes into a JSON answer as it is.
      assert.equal(JSON.stringify(row), `{"largest":${Number.MAX_SAFE_INTEGER},"jobs":0}`);
      await assert.rejects(
        sql`SELECT 9007199254740993::bigint AS beyond`,
        /beyond what a JS number holds/,
      );
      // The pool goes on after it.
      assert.deepEqual([...(await sql`SELECT 1::bigint AS one`)], [{ one: 1 }]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
}
