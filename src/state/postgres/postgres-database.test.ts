import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import postgres from 'postgres';
import { DependencyMissingError } from '../../errors/mags-error.ts';
import { advisoryLockKeys } from './postgres-advisory-lock.ts';
import { openPostgresDatabase } from './postgres-database.ts';
import { migratePostgres } from './postgres-migrations.ts';
import { createTestPostgresDatabase } from './postgres-test-database.ts';

const database = await createTestPostgresDatabase();

if ('skip' in database) {
  for (const name of [
    'BIGINT values come back as numbers, and one beyond 2^53 fails',
    'a migration waiting on a stuck lock fails with what to do instead of hanging',
  ]) {
    test(name, { skip: database.skip }, () => {});
  }
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

if (!('skip' in database)) {
  test('a migration waiting on a stuck lock fails with what to do instead of hanging', async () => {
    const { sql } = await openPostgresDatabase(database.url);
    const holder = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      // Another session holds the migration's lock (a stuck start, an old server's transaction).
      const reserved = await holder.reserve();
      await reserved`SELECT pg_advisory_lock(${advisoryLockKeys.migration})`;
      await assert.rejects(migratePostgres(sql, 300), (error) => {
        assert.equal((error as { code?: string }).code, '55P03');
        return true;
      });
      const started = Date.now();
      await assert.rejects(
        openPostgresDatabase(database.url, { migrationLockTimeoutMs: 300 }),
        (error) => {
          assert.ok(error instanceof DependencyMissingError);
          assert.match(error.message, /lock timeout/);
          assert.match(error.hint ?? '', /pg_locks/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 10_000);
      await reserved`SELECT pg_advisory_unlock(${advisoryLockKeys.migration})`;
      reserved.release();
      await migratePostgres(sql, 300);
    } finally {
      await holder.end({ timeout: 1 });
      await sql.end({ timeout: 1 });
    }
  });
}
