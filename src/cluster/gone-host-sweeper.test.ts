import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newJob } from '../jobs/new-job.ts';
import { createPostgresStateRepository } from '../state/postgres/postgres-state-repository.ts';
import { createTestPostgresDatabase } from '../state/postgres/postgres-test-database.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { HostRecord, JobRecord, StateRepository } from '../state/state-repository.ts';
import { goneHostReason, sweepGoneHosts } from './gone-host-sweeper.ts';
import { HostPresence } from './host-presence.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-test-sweeper-'));
const postgres = await createTestPostgresDatabase();
after(async () => {
  await rm(directory, { recursive: true, force: true });
  if ('drop' in postgres) await postgres.drop();
});

const backends: { name: string; open(): Promise<StateRepository>; skip?: string }[] = [
  {
    name: 'SQLite',
    open: async () => createSqliteStateRepository(join(directory, 'state.db')),
  },
  {
    name: 'PostgreSQL',
    open: () => createPostgresStateRepository('url' in postgres ? postgres.url : ''),
    ...('skip' in postgres ? { skip: postgres.skip } : {}),
  },
];

const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

function host(id: string, heartbeatMsAgo: number): HostRecord {
  return {
    id,
    server: `server-of-${id}`,
    address: null,
    runtimes: ['namespace'],
    maxJobs: 4,
    runningJobs: 1,
    warmWorkspaces: [],
    startedAt: at(60_000),
    heartbeatAt: at(heartbeatMsAgo),
    goneAt: null,
    goneReason: null,
  };
}

function runningJob(hostId: string): JobRecord {
  return {
    ...newJob('alice', 'run', ['sleep', '60'], null, null, 'namespace'),
    host: hostId,
    server: `server-of-${hostId}`,
    status: 'running',
    startedAt: at(5000),
  };
}

for (const backend of backends) {
  test(`${backend.name}: a silent host is marked gone once, its jobs failed with the reason in their record and output, and followers told`, {
    skip: backend.skip,
  }, async () => {
    const repository = await backend.open();
    const other = await backend.open(); // a second server on the same state
    try {
      await repository.registerHost(host('live', 500));
      await repository.registerHost(host('silent', 20_000));
      const silentJob = runningJob('silent');
      const liveJob = runningJob('live');
      await repository.insertJob(silentJob);
      await repository.insertJob(liveJob);
      await repository.appendLog(silentJob.id, [
        { offset: 0, stream: 'stdout', data: Buffer.from('working\n') },
      ]);
      const changed: string[] = [];
      const unlisten = await other.listen('job_changed', (id) => changed.push(id));

      const [swept, again] = await Promise.all([
        sweepGoneHosts(repository, { now: Date.now(), hostTimeoutMs: 15_000 }),
        sweepGoneHosts(other, { now: Date.now(), hostTimeoutMs: 15_000 }),
      ]);
      // Both swept at once: exactly one of them marked it (markHostGone's compare-and-set).
      const all = [...swept, ...again];
      assert.equal(all.length, 1);
      const gone = all[0];
      assert.equal(gone?.host, 'silent');
      assert.deepEqual(
        gone?.jobs.map((job) => job.id),
        [silentJob.id],
      );
      assert.match(
        gone?.reason ?? '',
        /^host silent stopped heartbeating at .* \(timeout 15 s\): its jobs were failed/,
      );

      const failed = await repository.getJob('alice', silentJob.id);
      assert.equal(failed?.status, 'failed');
      assert.equal(failed?.reason, gone?.reason);
      const output = Buffer.concat(
        (await repository.readLog(silentJob.id, 0, 1 << 20)).map((chunk) => chunk.data),
      ).toString();
      assert.equal(output, `working\n\nmags: ${gone?.reason}\n`);
      assert.equal((await repository.getJob('alice', liveJob.id))?.status, 'running');
      const hosts = await repository.listHosts();
      assert.equal(hosts.find((one) => one.id === 'silent')?.goneReason, gone?.reason);
      assert.equal(hosts.find((one) => one.id === 'live')?.goneAt, null);
      for (let wait = 0; wait < 50 && !changed.includes(`${silentJob.id}:alice`); wait++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(changed.includes(`${silentJob.id}:alice`), 'the other server heard job_changed');
      await unlisten();
      // A host's own sweep never marks itself, however late its own heartbeat.
      await repository.registerHost(host('me', 60_000));
      const self = await sweepGoneHosts(repository, {
        now: Date.now(),
        hostTimeoutMs: 15_000,
        self: 'me',
      });
      assert.deepEqual(self, []);
    } finally {
      await other.close();
      await repository.close();
    }
  });

  test(`${backend.name}: a host declared gone learns it at its next heartbeat, once, and stops beating`, {
    skip: backend.skip,
  }, async () => {
    const repository = await backend.open();
    try {
      let gone = 0;
      const presence = new HostPresence({
        repository,
        instance: { host: 'beating', server: 'server-of-beating' },
        address: 'http://127.0.0.1:1',
        runtimes: ['namespace'],
        load: () => ({ maxJobs: 2, runningJobs: 1, warmWorkspaces: ['alice.app'] }),
        heartbeatMs: 60_000,
        onGone: () => gone++,
        onError: (error) => assert.fail(String(error)),
      });
      const registered = await presence.start();
      await presence.beat();
      const [record] = (await repository.listHosts()).filter((one) => one.id === 'beating');
      assert.deepEqual(record?.warmWorkspaces, ['alice.app']);
      assert.ok((record?.heartbeatAt ?? '') >= registered.heartbeatAt);
      assert.equal(gone, 0);
      const reason = goneHostReason(record as HostRecord, 15_000);
      const marked = await repository.markHostGone(
        'beating',
        { server: 'server-of-beating', heartbeatAt: record?.heartbeatAt ?? '' },
        new Date().toISOString(),
        reason,
      );
      assert.ok(marked);
      await presence.beat();
      await presence.beat();
      assert.equal(gone, 1);
      assert.equal(presence.gone, true);
      // Its record stays gone (with the reason): a gone host does not remove it on stop.
      await presence.stop({ remove: true });
      const [after] = (await repository.listHosts()).filter((one) => one.id === 'beating');
      assert.equal(after?.goneReason, reason);
    } finally {
      await repository.close();
    }
  });
}
