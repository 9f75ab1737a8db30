import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import postgres from 'postgres';
import { retryOnDeadlock } from './postgres-retry.ts';
import { createTestPostgresDatabase } from './postgres-test-database.ts';

const database = await createTestPostgresDatabase();
const name = 'two transactions that deadlock both complete: the one PostgreSQL aborts runs again';

if ('skip' in database) {
  test(name, { skip: database.skip }, () => {});
  test('an error that is not a deadlock is not retried', { skip: database.skip }, () => {});
} else {
  after(() => database.drop());
  const sql = postgres(database.url, { max: 4, onnotice: () => {} });
  after(() => sql.end({ timeout: 1 }));
  await sql`CREATE TABLE counters (id TEXT PRIMARY KEY, value INTEGER NOT NULL)`;

  test(name, async () => {
    await sql`INSERT INTO counters VALUES ('a', 0), ('b', 0)`;
    // Each transaction locks one row, waits until the other holds its own, then wants the
    // other's: a deadlock on the first run, which PostgreSQL breaks by aborting one.
    let holding = 0;
    const bothHolding = async () => {
      holding += 1;
      const deadline = Date.now() + 5_000;
      while (holding < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    let runs = 0;
    const crosswise = (first: string, second: string) =>
      retryOnDeadlock(() =>
        sql.begin(async (transaction) => {
          runs += 1;
          await transaction`UPDATE counters SET value = value + 1 WHERE id = ${first}`;
          await bothHolding();
          await transaction`UPDATE counters SET value = value + 1 WHERE id = ${second}`;
        }),
      );
    await Promise.all([crosswise('a', 'b'), crosswise('b', 'a')]);
    assert.equal(runs, 3, 'one of them ran twice');
    const rows = await sql`SELECT id, value FROM counters ORDER BY id`;
    assert.deepEqual(
      rows.map((row) => [row.id, row.value]),
      [
        ['a', 2],
        ['b', 2],
      ],
    );
  });

  test('an error that is not a deadlock is not retried', async () => {
    let runs = 0;
    await assert.rejects(
      retryOnDeadlock(async () => {
        runs += 1;
        await sql`SELECT 1/0`;
      }),
      /division by zero/,
    );
    assert.equal(runs, 1);
  });
}
