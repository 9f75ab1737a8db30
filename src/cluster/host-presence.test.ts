import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { currentServerInstance } from '../config/server-instance.ts';
import type { MagsError } from '../errors/mags-error.ts';
import { createPostgresStateRepository } from '../state/postgres/postgres-state-repository.ts';
import { createTestPostgresDatabase } from '../state/postgres/postgres-test-database.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { HostRecord, StateRepository } from '../state/state-repository.ts';
import { type HostLost, HostPresence } from './host-presence.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-test-presence-'));
const postgres = await createTestPostgresDatabase();
after(async () => {
  await rm(directory, { recursive: true, force: true });
  if ('drop' in postgres) await postgres.drop();
});

const backends: { name: string; open(): Promise<StateRepository>; skip?: string }[] = [
  { name: 'SQLite', open: async () => createSqliteStateRepository(join(directory, 'state.db')) },
  {
    name: 'PostgreSQL',
    open: () => createPostgresStateRepository('url' in postgres ? postgres.url : ''),
    ...('skip' in postgres ? { skip: postgres.skip } : {}),
  },
];

const thisProcess = currentServerInstance().server;
const [boot] = thisProcess.split(':');

function presence(
  repository: StateRepository,
  host: string,
  server: string,
  logged: string[],
  onGone: (how: HostLost) => void = () => assert.fail('not declared gone'),
) {
  return new HostPresence({
    repository,
    instance: { host, server },
    address: null,
    runtimes: ['namespace'],
    load: () => ({ maxJobs: 1, runningJobs: 0, warmWorkspaces: [] }),
    heartbeatMs: 50,
    hostTimeoutMs: 400,
    log: (line) => logged.push(line),
    onGone,
    onError: (error) => assert.fail(String(error)),
  });
}

function record(id: string, server: string, heartbeatMsAgo = 0): HostRecord {
  const at = new Date(Date.now() - heartbeatMsAgo).toISOString();
  return {
    ...{ id, server, address: null, runtimes: ['namespace'], maxJobs: 1, runningJobs: 0 },
    ...{ warmWorkspaces: [], startedAt: at, heartbeatAt: at, goneAt: null, goneReason: null },
  };
}

const inUse = (error: MagsError) =>
  error.code === 'host_id_in_use' && /another --host-id/.test(error.hint ?? '');

for (const backend of backends) {
  test(`${backend.name}: the same host id twice: a live server's id is refused, a dead or silent one's is taken`, {
    skip: backend.skip,
  }, async () => {
    const repository = await backend.open();
    const logged: string[] = [];
    try {
      // A live process on this machine serves it (this very process): refused at once.
      await repository.registerHost(record('h-live', thisProcess));
      await assert.rejects(presence(repository, 'h-live', `${boot}:1:2`, logged).start(), inUse);
      assert.equal((await repository.listHosts())[0]?.server, thisProcess);
      // A process of this machine that no longer runs (a crash): taken at once, no waiting.
      await repository.registerHost(record('h-crashed', `${boot}:999999999:1`));
      const restarted = presence(repository, 'h-crashed', `${boot}:3:4`, logged);
      await restarted.start();
      await restarted.stop({ remove: false });
      assert.equal(logged.length, 0, 'no wait for a process known dead');
      // Another machine's server that keeps beating: refused after watching it beat.
      await repository.registerHost(record('h-remote', 'other-boot:1:2'));
      const beating = setInterval(() => {
        void repository.heartbeatHost('h-remote', 'other-boot:1:2', {
          heartbeatAt: new Date().toISOString(),
          runningJobs: 0,
          warmWorkspaces: [],
        });
      }, 30);
      try {
        await assert.rejects(
          presence(repository, 'h-remote', `${boot}:5:6`, logged).start(),
          inUse,
        );
      } finally {
        clearInterval(beating);
      }
      assert.match(logged.join('\n'), /waiting up to 0.45 s for it to fall silent/);
      // The same, silent now (crashed or frozen for good): taken once silent for the timeout.
      const taking = presence(repository, 'h-remote', `${boot}:5:6`, logged);
      await taking.start();
      await taking.stop({ remove: false });
      const taken = (await repository.listHosts()).find((one) => one.id === 'h-remote');
      assert.equal(taken?.server, `${boot}:5:6`);
    } finally {
      await repository.close();
    }
  });

  test(`${backend.name}: a host whose id another process took tells that apart from being declared gone`, {
    skip: backend.skip,
  }, async () => {
    const repository = await backend.open();
    const lost: HostLost[] = [];
    try {
      const first = presence(repository, 'h-taken', `${boot}:7:8`, [], (how) => lost.push(how));
      await first.start();
      await repository.registerHost(record('h-taken', 'other-boot:9:9'));
      await first.beat();
      assert.deepEqual(lost, [{ kind: 'replaced', by: 'other-boot:9:9' }]);
      const second = presence(repository, 'h-lost', `${boot}:7:8`, [], (how) => lost.push(how));
      await second.start();
      const [stored] = (await repository.listHosts()).filter((one) => one.id === 'h-lost');
      assert.ok(
        stored && (await repository.markHostGone('h-lost', stored, stored.heartbeatAt, 'silent')),
      );
      await second.beat();
      assert.deepEqual(lost.at(-1), { kind: 'gone', reason: 'silent' });
      await Promise.all([first.stop({ remove: false }), second.stop({ remove: false })]);
    } finally {
      await repository.close();
    }
  });
}
