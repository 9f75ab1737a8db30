import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import type { MagsError } from '../../errors/mags-error.ts';
import type { JobRecord } from '../state-repository.ts';
import { runStateRepositoryContract } from '../state-repository-contract.ts';
import { runHostStateContract } from '../state-repository-host-contract.ts';
import { runTriggerStateContract } from '../state-repository-trigger-contract.ts';
import { sqliteMigrations } from './sqlite-migrations.ts';
import { createSqliteStateRepository } from './sqlite-state-repository.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-state-'));
after(() => rm(directory, { recursive: true, force: true }));
const path = join(directory, 'state.db');

runStateRepositoryContract({
  name: 'sqlite',
  createRepository: async () => createSqliteStateRepository(path),
  reopen: async (previous) => {
    await previous.close();
    return createSqliteStateRepository(path);
  },
  openSecond: async () => createSqliteStateRepository(path),
});

runTriggerStateContract({
  name: 'sqlite',
  createRepository: async () => createSqliteStateRepository(join(directory, 'triggers.db')),
});

// Two repositories on one file, as two server processes on one host would open it.
runHostStateContract({
  name: 'sqlite',
  createRepository: async () => createSqliteStateRepository(join(directory, 'hosts.db')),
  openAnother: async () => createSqliteStateRepository(join(directory, 'hosts.db')),
});

test('an unusable database path is a clear error naming the path', () => {
  // A file where the database's directory should be fails for every user, root included.
  const blocked = join(path, 'state.db');
  assert.throws(
    () => createSqliteStateRepository(blocked),
    (error: MagsError) => error.message.includes(blocked) && /writable/.test(error.hint ?? ''),
  );
});

test('a version 1 database migrates to version 2: existing tokens are not admin', async () => {
  const { DatabaseSync } = await import('node:sqlite');
  const old = join(directory, 'version-1-tokens.db');
  const database = new DatabaseSync(old);
  database.exec((sqliteMigrations[0] as { sql: string }).sql);
  database.exec('PRAGMA user_version = 1');
  database.exec(
    "INSERT INTO tokens (id, owner, name, hash, created_at) VALUES ('t-old', 'local', 'x', 'h-old', 'now')",
  );
  database.close();
  const repository = createSqliteStateRepository(old);
  assert.equal((await repository.findTokenByHash('h-old'))?.admin, false);
  await repository.close();
  const reopened = new DatabaseSync(old);
  const { user_version } = reopened.prepare('PRAGMA user_version').get() as {
    user_version: number;
  };
  reopened.close();
  assert.equal(user_version, sqliteMigrations.length);
  // Opening it again runs no step twice (ALTER TABLE ADD COLUMN would fail the second time).
  await createSqliteStateRepository(old).close();
});

const fileBytes = (file: string) =>
  ['', '-wal'].reduce(
    (sum, suffix) => sum + (statSync(file + suffix, { throwIfNoEntry: false })?.size ?? 0),
    0,
  );
const mebibyte = 1024 * 1024;

test('removed output gives its space back to the filesystem', async () => {
  const file = join(directory, 'reclaim.db');
  const repository = createSqliteStateRepository(file);
  try {
    await repository.insertJob(finishedJob('j-big'));
    // The way a job's log stores it: 64 KiB rows, a transaction per batch.
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (let offset = 0; offset < 64 * mebibyte; offset += chunk.length * 4) {
      await repository.appendLog(
        'j-big',
        [0, 1, 2, 3].map((index) => ({
          offset: offset + index * chunk.length,
          stream: 'stdout' as const,
          data: chunk,
        })),
      );
    }
    assert.ok(fileBytes(file) > 64 * mebibyte);
    await repository.removeLogs(['j-big'], new Date().toISOString(), 'test');
    // The bound: what is left of the log (at most its size limit, 8 MiB) and a few MiB of
    // freed pages the last checkpoint has not yet cut off.
    assert.ok(fileBytes(file) < 20 * mebibyte, `${fileBytes(file)} bytes left`);
  } finally {
    await repository.close();
  }
});

test('a version 1 database is migrated in place and keeps its data', async () => {
  const file = join(directory, 'version-1.db');
  const old = new DatabaseSync(file);
  old.exec('PRAGMA journal_mode = WAL;');
  old.exec(`${(sqliteMigrations[0] as { sql: string }).sql} PRAGMA user_version = 1;`);
  old
    .prepare(
      `INSERT INTO jobs (id, owner, kind, argv, status, created_at, log_bytes)
       VALUES ('j-v1', 'alice', 'run', '["true"]', 'succeeded', 'then', 4)`,
    )
    .run();
  old.prepare("INSERT INTO job_logs VALUES ('j-v1', 0, 'stdout', X'6f6b210a')").run();
  old.close();
  const repository = createSqliteStateRepository(file);
  try {
    const job = await repository.getJob('alice', 'j-v1');
    assert.equal(job?.logsRemovedAt, null);
    const chunks = await repository.readLog('j-v1', 0, 1024);
    assert.equal(Buffer.concat(chunks.map((chunk) => chunk.data)).toString(), 'ok!\n');
  } finally {
    await repository.close();
  }
  const upgraded = new DatabaseSync(file);
  const pragma = (name: string) => Object.values(upgraded.prepare(`PRAGMA ${name}`).get() ?? {})[0];
  assert.equal(pragma('user_version'), sqliteMigrations.length);
  assert.equal(pragma('auto_vacuum'), 2, 'incremental');
  const columns = upgraded.prepare('PRAGMA table_info(tokens)').all();
  assert.ok(columns.some((column) => column.name === 'admin'));
  upgraded.close();
});

test('a database at every earlier version upgrades to the latest, keeping its jobs', async () => {
  for (let version = 1; version < sqliteMigrations.length; version++) {
    const file = join(directory, `at-version-${version}.db`);
    const old = new DatabaseSync(file);
    for (const migration of sqliteMigrations.slice(0, version)) old.exec(migration.sql);
    old.exec(`PRAGMA user_version = ${version}`);
    // Jobs as that version stored them (the columns of the first schema are in every one).
    const insert = old.prepare(
      `INSERT INTO jobs (id, owner, kind, argv, status, exit_code, reason, created_at, log_bytes)
       VALUES (?, 'alice', 'run', '["true"]', ?, ?, ?, 'then', 0)`,
    );
    insert.run('j-ok', 'succeeded', 0, null);
    insert.run('j-timeout', 'failed', null, 'timed out');
    insert.run('j-code', 'failed', 3, 'exited with code 3');
    insert.run('j-broken', 'failed', null, 'could not start');
    insert.run('j-stopped', 'stopped', null, 'stopped on request');
    insert.run('j-running', 'running', null, null);
    old.close();
    const repository = createSqliteStateRepository(file);
    try {
      const endReason = async (id: string) => (await repository.getJob('alice', id))?.endReason;
      assert.deepEqual(
        await Promise.all(
          ['j-ok', 'j-timeout', 'j-code', 'j-broken', 'j-stopped', 'j-running'].map(endReason),
        ),
        // Step 6 derives the end reason of jobs stored before it; from version 6 on, a job
        // keeps the one it was stored with (none here).
        version < 6
          ? ['exited', 'timed_out', 'exited', 'failed', 'stopped', null]
          : [null, null, null, null, null, null],
        `from version ${version}`,
      );
      const running = await repository.getJob('alice', 'j-running');
      assert.deepEqual([running?.host, running?.sandboxId, running?.message], [null, null, null]);
      // What the later versions added is usable: a job with a host, and a takeover.
      await repository.insertJob({ ...finishedJob('j-new'), host: 'h', server: 's' });
      assert.equal((await repository.getJob('alice', 'j-new'))?.host, 'h');
      assert.ok(
        await repository.takeOverServer({ server: 's', host: 'h', successor: 't', at: 'now' }),
      );
    } finally {
      await repository.close();
    }
    const upgraded = new DatabaseSync(file);
    const row = upgraded.prepare('PRAGMA user_version').get() as { user_version: number };
    assert.equal(Number(row.user_version), sqliteMigrations.length, `from version ${version}`);
    upgraded.close();
  }
});

function finishedJob(id: string): JobRecord {
  return {
    id,
    owner: 'alice',
    kind: 'run',
    sandbox: null,
    argv: ['true'],
    workspace: null,
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    reason: null,
    endReason: null,
    sandboxId: null,
    message: null,
    createdAt: new Date().toISOString(),
    startedAt: null,
    finishedAt: new Date().toISOString(),
    logBytes: 0,
    logsRemovedAt: null,
    logsRemovedReason: null,
  };
}

test('a version 6 database migrates to 7 keeping its data, and holds projects and tickets', async () => {
  const file = join(directory, 'version-6.db');
  const old = new DatabaseSync(file);
  for (const migration of sqliteMigrations.slice(0, 6)) old.exec(migration.sql);
  old.exec('PRAGMA user_version = 6');
  old.exec(
    `INSERT INTO tokens (id, owner, name, hash, created_at, admin)
       VALUES ('t-6', 'alice', 'laptop', 'h-6', 'then', 1);
     INSERT INTO jobs (id, owner, kind, argv, status, exit_code, end_reason, created_at, log_bytes)
       VALUES ('j-6', 'alice', 'run', '["true"]', 'succeeded', 0, 'exited', 'then', 3);
     INSERT INTO job_logs VALUES ('j-6', 0, 'stdout', X'6f6b0a');
     INSERT INTO sandboxes (owner, name, status, options, created_at, last_active_at)
       VALUES ('alice', 'dev', 'stopped', '{"network":true}', 'then', 'then');
     INSERT INTO workspaces VALUES ('alice', 'dev', 'then', 'then');`,
  );
  old.close();
  const repository = createSqliteStateRepository(file);
  try {
    assert.equal((await repository.findTokenByHash('h-6'))?.admin, true);
    assert.equal((await repository.getJob('alice', 'j-6'))?.endReason, 'exited');
    const chunks = await repository.readLog('j-6', 0, 1024);
    assert.equal(Buffer.concat(chunks.map((chunk) => chunk.data)).toString(), 'ok\n');
    assert.deepEqual((await repository.getSandbox('alice', 'dev'))?.options, { network: true });
    assert.equal((await repository.listWorkspaces('alice')).length, 1);
    assert.deepEqual(await repository.listProjects('alice'), []);
    await repository.insertProject({
      owner: 'alice',
      name: 'webapp',
      repo: '/srv/webapp',
      ref: null,
      workspace: 'project.webapp',
      commit: null,
      setupTree: null,
      setup: null,
      test: null,
      model: null,
      config: {},
      status: 'importing',
      reason: null,
      createdAt: 'now',
      updatedAt: 'now',
    });
    assert.equal((await repository.getProject('alice', 'webapp'))?.status, 'importing');
    const event = await repository.appendTicketEvent('tkt_v6', {
      attempt: 1,
      at: 'now',
      data: { type: 'evidence', summary: 'ok' },
    });
    assert.equal(event.id, 1);
  } finally {
    await repository.close();
  }
  const upgraded = new DatabaseSync(file);
  const row = upgraded.prepare('PRAGMA user_version').get() as { user_version: number };
  assert.equal(Number(row.user_version), sqliteMigrations.length);
  upgraded.close();
});
