import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import postgres from 'postgres';
import { DependencyMissingError, InvalidInputError } from '../../errors/mags-error.ts';
import { openPostgresDatabase } from './postgres-database.ts';
import { postgresPoolOptions } from './postgres-pool-options.ts';
import { createPostgresStateRepository } from './postgres-state-repository.ts';
import { createTestPostgresDatabase } from './postgres-test-database.ts';
import { startTestRelay } from './postgres-test-relay.ts';

test('the pool size comes from the caller, ?max=, MAGS_STATE_MAX_CONNECTIONS, else 10', () => {
  const url = 'postgres://u@h/d';
  assert.deepEqual(postgresPoolOptions(url, undefined, {}), { max: 10, idle_timeout: 60 });
  assert.equal(postgresPoolOptions(`${url}?max=3`, undefined, {}).max, 3);
  assert.equal(postgresPoolOptions(url, undefined, { MAGS_STATE_MAX_CONNECTIONS: '4' }).max, 4);
  assert.equal(
    postgresPoolOptions(`${url}?max=3`, undefined, { MAGS_STATE_MAX_CONNECTIONS: '4' }).max,
    3,
  );
  assert.equal(postgresPoolOptions(`${url}?max=3`, 7, {}).max, 7);
  // The URL's own idle timeout is left to postgres.js, which reads it.
  assert.deepEqual(postgresPoolOptions(`${url}?idle_timeout=5`, undefined, {}), { max: 10 });
  for (const bad of ['0', '-1', 'ten', '1.5', '100000']) {
    assert.throws(
      () => postgresPoolOptions(`${url}?max=${bad}`, undefined, {}),
      (error) => error instanceof InvalidInputError && /max=/.test(error.message) && !!error.hint,
    );
  }
});

const database = await createTestPostgresDatabase();

if ('skip' in database) {
  for (const name of [
    'the pool opens at most ?max= connections, and idle ones close',
    'a query while the database is unreachable is a 503 with a hint, and works again after',
  ]) {
    test(name, { skip: database.skip }, () => {});
  }
} else {
  after(() => database.drop());

  test('the pool opens at most ?max= connections, and idle ones close', async () => {
    const url = new URL(database.url);
    url.searchParams.set('max', '2');
    url.searchParams.set('idle_timeout', '1');
    const { sql } = await openPostgresDatabase(url.toString());
    const admin = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const pids = await Promise.all(
        Array.from(
          { length: 6 },
          async () => (await sql`SELECT pg_backend_pid() AS pid, pg_sleep(0.1)`)[0]?.pid,
        ),
      );
      assert.equal(new Set(pids).size, 2);
      const open = async () =>
        (
          await admin`SELECT count(*)::int AS open FROM pg_stat_activity
            WHERE pid IN ${admin(pids as number[])}`
        )[0]?.open;
      const deadline = Date.now() + 10_000;
      while ((await open()) > 0) {
        assert.ok(Date.now() < deadline, 'idle connections still open after 10 s');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      await admin.end({ timeout: 1 });
      await sql.end({ timeout: 1 });
    }
  });

  test('a query while the database is unreachable is a 503 with a hint, and works again after', async () => {
    const target = new URL(database.url);
    const relay = await startTestRelay(target.hostname, Number(target.port || 5432));
    const url = new URL(database.url);
    url.port = String(relay.port);
    const state = await createPostgresStateRepository(url.toString());
    try {
      await relay.down();
      await assert.rejects(state.listTokens('alice'), (error) => {
        assert.ok(error instanceof DependencyMissingError, String(error));
        assert.equal(error.code, 'state_unavailable');
        assert.equal(error.statusCode, 503);
        assert.match(error.message, /PostgreSQL state database at .* is unreachable/);
        assert.match(error.hint ?? '', /try again/);
        return true;
      });
      await relay.up();
      assert.deepEqual(await state.listTokens('alice'), []);
    } finally {
      await state.close();
      await relay.close();
    }
  });
}
