import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/**
 * A fresh, empty database on the test PostgreSQL (MAGS_TEST_POSTGRES_URL, or the one
 * scripts/postgres.sh starts), dropped by `drop()`; or why there is none, for the test to skip
 * with. Each test file gets its own database, so files running at once never share rows.
 */
export async function createTestPostgresDatabase(): Promise<
  { url: string; drop(): Promise<void> } | { skip: string }
> {
  const adminUrl =
    process.env.MAGS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5433/postgres';
  const admin = postgres(adminUrl, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await admin`SELECT 1`;
  } catch (error) {
    await admin.end({ timeout: 1 }).catch(() => {});
    return {
      skip: `no PostgreSQL at ${adminUrl} (${String(error)}): run scripts/postgres.sh install && scripts/postgres.sh start, or set MAGS_TEST_POSTGRES_URL`,
    };
  }
  const name = `mags_test_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await admin.end({ timeout: 1 });
    },
  };
}
