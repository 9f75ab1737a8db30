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
import { goneHostReason, HeartbeatObservations, sweepGoneHosts } from './gone-host-sweeper.ts';
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
  test(`${backend.name}: a silent host is marked gone once, its jobs failed with the reason in their record (their output untouched), and followers told`, {
    skip: backend.skip,
  }, async () => {
    const repository = await backend.open();
    const other = await backend.open(); // a second server on the same state
    try {
      await repository.registerHost(host('live', 500));
      await repository.registerHost(host('silent', 500));
      // Its clock is an hour behind, and it beats: it is not silent.
      await repository.registerHost(host('skewed', 3_600_000));
      const silentJob = runningJob('silent');
      const liveJob = runningJob('live');
      await repository.insertJob(silentJob);
      await repository.insertJob(liveJob);
      await repository.appendLog(silentJob.id, [
        { offset: 0, stream: 'stdout', data: Buffer.from('working\n') },
      ]);
      const changed: string[] = [];
      const unlisten = await other.listen('job_changed', (id) => changed.push(id));

      // Two servers sweeping, each on its own clock (their monotonic milliseconds, given here).
      const observers = [new HeartbeatObservations(), new HeartbeatObservations()];
      const sweep = (nowMs: number) =>
        Promise.all(
          [repository, other].map((state, index) =>
            sweepGoneHosts(state, {
              observed: observers[index] as HeartbeatObservations,
              nowMs,
              hostTimeoutMs: 15_000,
            }),
          ),
        );
      // A server that has just started observing declares nothing, however old the heartbeats.
      assert.deepEqual(await sweep(0), [[], []]);
      // Ten seconds on: live and skewed beat, silent does not; then six more seconds.
      const beat = (id: string, msAgo: number) =>
        repository.heartbeatHost(id, `server-of-${id}`, {
          heartbeatAt: at(msAgo),
          runningJobs: 1,
          warmWorkspaces: [],
        });
      assert.ok(await beat('live', 0));
      assert.ok(await beat('skewed', 3_600_000 - 10));
      assert.deepEqual(await sweep(10_000), [[], []]);
      const all = (await sweep(16_000)).flat();
      // Both swept at once: exactly one of them marked it (markHostGone's compare-and-set).
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
      assert.equal(output, 'working\n');
      assert.equal(failed?.message, gone?.reason);
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
      const mine = new HeartbeatObservations();
      const asSelf = (nowMs: number) =>
        sweepGoneHosts(repository, { observed: mine, nowMs, hostTimeoutMs: 15_000, self: 'me' });
      assert.equal(
        (await repository.listHosts()).find((one) => one.id === 'skewed')?.goneAt,
        null,
        'a host whose clock is off but beats is live',
      );
      assert.deepEqual(await asSelf(0), []);
      assert.ok(await beat('live', 0));
      assert.ok(await beat('skewed', 3_600_000 - 20));
      assert.deepEqual(await asSelf(60_000), []);
      // The state unreadable: what was observed is forgotten (the hosts' beats may have failed
      // too), so nothing is declared at once when it answers again.
      const closed = await backend.open();
      await closed.close();
      const observed = new HeartbeatObservations();
      await repository.registerHost(host('quiet', 0));
      await sweepGoneHosts(repository, { observed, nowMs: 0, hostTimeoutMs: 15_000 });
      await assert.rejects(
        sweepGoneHosts(closed, { observed, nowMs: 20_000, hostTimeoutMs: 15_000 }),
      );
      assert.deepEqual(
        await sweepGoneHosts(repository, { observed, nowMs: 30_000, hostTimeoutMs: 15_000 }),
        [],
      );
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
        hostTimeoutMs: 15_000,
        log: () => {},
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

test('placement takes a heartbeat by its timestamp until this server has seen it change, then as watched', () => {
  const observed = new HeartbeatObservations();
  const wallNowMs = Date.parse('2026-11-30T10:00:00.000Z');
  const hourAgo = '2026-11-30T09:00:00.000Z';
  // First sight of an hour-old heartbeat: an hour old (its host went silent before this server).
  assert.equal(observed.ageMs({ id: 'a', heartbeatAt: hourAgo }, 0, wallNowMs), 3_600_000);
  // It changes (the host beats, its clock an hour behind): from now on, as watched here.
  const beat = '2026-11-30T09:00:01.000Z';
  assert.equal(observed.ageMs({ id: 'a', heartbeatAt: beat }, 1000, wallNowMs + 1000), 0);
  assert.equal(observed.ageMs({ id: 'a', heartbeatAt: beat }, 1500, wallNowMs + 1500), 500);
  assert.equal(observed.unchangedForMs({ id: 'a', heartbeatAt: beat }, 4000), 3000);
});
