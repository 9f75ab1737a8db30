import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import postgres from 'postgres';
import { runHostStateContract } from '../state-repository-host-contract.ts';
import { createPostgresStateRepository } from './postgres-state-repository.ts';
import { createTestPostgresDatabase } from './postgres-test-database.ts';
import { startTestRelay } from './postgres-test-relay.ts';

// A database of its own; the second repository is a second pool and a second listening
// connection on it: to the database, another server process.
const database = await createTestPostgresDatabase();

if ('skip' in database) {
  test('host state contract: postgres', { skip: database.skip }, () => {});
  test('a listener hears again after its connection is cut, and unsubscribes after it', {
    skip: database.skip,
  }, () => {});
  test('a LISTEN that failed while the database was down leaves nothing that delivers twice', {
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

  test('a LISTEN that failed while the database was down leaves nothing that delivers twice', async () => {
    // The repository reaches PostgreSQL through a TCP relay that this test closes: to the
    // client, the database is down (connections refused), then back on the same address.
    const target = new URL(database.url);
    const relay = await startTestRelay(target.hostname, Number(target.port || 5432));
    const url = new URL(database.url);
    url.port = String(relay.port);
    const state = await createPostgresStateRepository(url.toString());
    try {
      await relay.down();
      await assert.rejects(state.listen('hosts', () => {}));
      await relay.up();
      // A subscriber tries again, as the server's listeners do, until its LISTEN succeeds.
      const heard: string[] = [];
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await state.listen('hosts', (payload) => heard.push(payload));
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await state.notify('hosts', 'once');
      await waitFor(() => heard.includes('once'));
      await state.notify('hosts', 'marker');
      await waitFor(() => heard.includes('marker'));
      assert.deepEqual(heard, ['once', 'marker']);
    } finally {
      await state.close();
      await relay.close();
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
