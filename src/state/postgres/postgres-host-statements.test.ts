import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import postgres from 'postgres';
import { runHostStateContract } from '../state-repository-host-contract.ts';
import { createPostgresStateRepository } from './postgres-state-repository.ts';
import { createTestPostgresDatabase } from './postgres-test-database.ts';

// A database of its own; the second repository is a second pool and a second listening
// connection on it: to the database, another server process.
const database = await createTestPostgresDatabase();

if ('skip' in database) {
  test('host state contract: postgres', { skip: database.skip }, () => {});
  test('a listener hears again after its connection is cut, and unsubscribes after it', {
    skip: database.skip,
  }, () => {});
} else {
  after(() => database.drop());
  runHostStateContract({
    name: 'postgres',
    createRepository: () => createPostgresStateRepository(database.url),
    openAnother: () => createPostgresStateRepository(database.url),
  });

  test('a listener hears again after its connection is cut, and unsubscribes after it', async () => {
    const state = await createPostgresStateRepository(database.url);
    const admin = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const heard: string[] = [];
      const stop = await state.listen('job_changed', (payload) => heard.push(payload));
      await state.notify('job_changed', 'before');
      await waitFor(() => heard.includes('before'));
      // What an administrator's kill or a failover does to the listening session.
      const cut = await admin`SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity
        WHERE datname = current_database() AND query ILIKE 'listen%' AND pid <> pg_backend_pid()`;
      assert.equal(cut.length, 1, 'one listening session to cut');
      // Notifications sent before it listens again are lost: send until one arrives.
      let sent = 0;
      await waitFor(
        () => heard.includes('after'),
        async () => {
          sent += 1;
          await state.notify('job_changed', 'after');
        },
      );
      assert.ok(sent >= 1);
      // Unsubscribing still works on the new connection (postgres.js's own unlisten would not).
      await stop();
      const still: string[] = [];
      const stopStill = await state.listen('job_changed', (payload) => still.push(payload));
      await state.notify('job_changed', 'unsubscribed');
      await waitFor(() => still.includes('unsubscribed'));
      assert.equal(heard.includes('unsubscribed'), false);
      await stopStill();
    } finally {
      await admin.end({ timeout: 1 });
      await state.close();
    }
  });
}

async function waitFor(condition: () => boolean, meanwhile?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a notification');
    await meanwhile?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
