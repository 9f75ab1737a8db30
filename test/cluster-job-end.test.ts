/**
 * A host recording its jobs' ends in a shared PostgreSQL state (issue 17 review, findings 3 and
 * 4): an end that arrives after another server recorded the job's end is dropped rather than
 * written over it; an outage of PostgreSQL at a job's end is waited out; one longer than the host
 * timeout makes the host fall silent, so the other servers fail its jobs, rather than heartbeat on
 * with a job recorded running forever. A real in-process server on a fresh PostgreSQL database,
 * cut off by refusing connections to that database (ALLOW_CONNECTIONS false) and ending its
 * sessions.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import postgresClient from 'postgres';
import { createPostgresStateRepository } from '../src/state/postgres/postgres-state-repository.ts';
import { createTestPostgresDatabase } from '../src/state/postgres/postgres-test-database.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import { waitUntil } from './helpers/server-process.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const sandboxSkip = sandboxSkipReason();
const postgres = sandboxSkip ? { skip: sandboxSkip } : await createTestPostgresDatabase();
const skip = 'skip' in postgres ? postgres.skip : undefined;
if (skip) process.stdout.write(`# skipping the job-end tests: ${skip}\n`);
const stateUrl = 'url' in postgres ? postgres.url : '';

describe("a host recording its jobs' ends on PostgreSQL", { skip }, () => {
  const servers: TestServer[] = [];
  const repositories: StateRepository[] = [];
  const database = new URL(stateUrl || 'postgres://x/x').pathname.slice(1);
  const adminUrl = new URL(stateUrl || 'postgres://x/x');
  adminUrl.pathname = '/postgres';
  const admin = postgresClient(adminUrl.toString(), { max: 1, onnotice: () => {} });
  after(async () => {
    await admin.unsafe(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`).catch(() => {});
    for (const server of servers) await server.close().catch(() => {});
    for (const repository of repositories) await repository.close().catch(() => {});
    await admin.end({ timeout: 1 });
    if ('drop' in postgres) await postgres.drop();
  });

  async function host(hostId: string, hostTimeoutMs: number) {
    const repository = await createPostgresStateRepository(stateUrl);
    const server = await startTestServer({
      repository,
      hostId,
      scheduling: { poolSize: 0 },
      cluster: { heartbeatMs: 200, hostTimeoutMs },
    });
    servers.push(server);
    const state = await createPostgresStateRepository(stateUrl);
    repositories.push(state);
    return { server, state, mags: (await server.client('alice')).mags };
  }

  async function outage(work: () => Promise<void>) {
    await admin.unsafe(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${database}`;
    try {
      await work();
    } finally {
      await admin.unsafe(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
    }
  }

  const running = (state: StateRepository, id: string) => async () =>
    (await state.getJob('alice', id))?.status === 'running';

  test('an end that arrives after another server failed the job is dropped, not written over the failure', async () => {
    const { server, state, mags } = await host('ender', 10_000);
    const job = await mags.run('sleep 1; echo done');
    await waitUntil(running(state, job.id), 10_000);
    // What a sweep does to the job of a host it found silent.
    await state.updateJob(job.id, { status: 'failed', reason: 'failed by another server' });
    await waitUntil(async () => server.server.services.jobs.counts.running === 0, 10_000);
    const stored = await state.getJob('alice', job.id);
    assert.deepEqual(
      [stored?.status, stored?.reason, stored?.exitCode],
      ['failed', 'failed by another server', null],
    );
  });

  test("a PostgreSQL outage at a job's end is waited out: the end is recorded once it answers", async () => {
    const { server, state, mags } = await host('outlasting', 10_000);
    const job = await mags.run('sleep 1; echo done');
    await waitUntil(running(state, job.id), 10_000);
    await outage(() => new Promise((resolve) => setTimeout(resolve, 2500)));
    await waitUntil(
      async () => (await state.getJob('alice', job.id))?.status !== 'running',
      10_000,
    );
    const stored = await state.getJob('alice', job.id);
    assert.deepEqual([stored?.status, stored?.exitCode], ['succeeded', 0]);
    assert.equal(server.server.cluster?.role, 'host');
  });

  test('an outage longer than the host timeout: the host stops heartbeating and lets go of its jobs', async () => {
    const { server, state, mags } = await host('cut-off', 1500);
    const job = await mags.run('sleep 0.5; echo done');
    await waitUntil(running(state, job.id), 10_000);
    await outage(() => waitUntil(async () => server.server.cluster?.role === 'gone host', 10_000));
    // It beats no more: the others find it silent and fail its jobs (gone-host-sweeper).
    const before = (await state.listHosts()).find((one) => one.id === 'cut-off');
    await new Promise((resolve) => setTimeout(resolve, 800));
    const later = (await state.listHosts()).find((one) => one.id === 'cut-off');
    assert.equal(later?.heartbeatAt, before?.heartbeatAt);
    assert.equal((await state.getJob('alice', job.id))?.status, 'running', 'for the sweep to fail');
  });
});
