/**
 * Migration 4's VACUUM on a nearly full disk, for real: a tmpfs too small for the rewrite.
 * The server must still start; the database stays in its old auto-vacuum mode, and deleting a
 * job (which reclaims space in incremental mode) must still work.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { migrateSqlite, sqliteMigrations } from './sqlite-migrations.ts';
import { createSqliteStateRepository } from './sqlite-state-repository.ts';

const mebibyte = 1024 * 1024;
/** The filesystem: room for the database (about 1.5 MiB) but not for VACUUM's copy of it. */
const filesystemBytes = 2.5 * mebibyte;

let directory: string;
let skip: string | false = false;
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mags-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${filesystemBytes}`, 'tmpfs', directory], {
      stdio: 'pipe',
    });
  } catch (error) {
    skip = `cannot mount a small tmpfs (needs root): ${String(error).split('\n')[0]}`;
    process.stdout.write(`# skipping the full-disk migration test: ${skip}\n`);
  }
});
after(async () => {
  if (!skip) execFileSync('umount', ['--lazy', directory]);
  await rm(directory, { recursive: true, force: true });
});

test('a VACUUM that fails for lack of disk is logged; the database still opens', async (t) => {
  if (skip) return t.skip(skip);
  const path = join(directory, 'state.db');
  // A database at version 3 (before the switch), holding about 1.5 MiB of job output; written
  // with a rollback journal, which needs no room for a second copy of what is inserted.
  const old = new DatabaseSync(path);
  migrateSqlite(old, sqliteMigrations.slice(0, 3));
  const insert = old.prepare(
    "INSERT INTO job_logs (job_id, offset, stream, data) VALUES ('job_old', ?, 'stdout', ?)",
  );
  for (let index = 0; index < 24; index++) insert.run(index, Buffer.alloc(64 * 1024, index));
  old.close();

  const logged: string[] = [];
  const database = new DatabaseSync(path);
  database.exec('PRAGMA journal_mode = WAL');
  migrateSqlite(database, sqliteMigrations, (line) => logged.push(line));
  const version = database.prepare('PRAGMA user_version').get() as { user_version: number };
  assert.equal(Number(version.user_version), sqliteMigrations.length);
  const mode = database.prepare('PRAGMA auto_vacuum').get() as { auto_vacuum: number };
  assert.equal(Number(mode.auto_vacuum), 0, 'still not incremental');
  database.close();
  assert.equal(logged.length, 1, logged.join('\n'));
  assert.match(logged[0] as string, /migration 4: could not switch to incremental auto-vacuum/);
  assert.match(logged[0] as string, /full/i);

  // The repository opens it (at the latest version: no second attempt) and deletes a finished
  // job, whose space reclaiming skips the incremental vacuum this database cannot do.
  const repository = createSqliteStateRepository(path);
  try {
    const now = new Date().toISOString();
    await repository.insertJob({
      id: 'job_done',
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
      createdAt: now,
      startedAt: now,
      finishedAt: now,
      logBytes: 0,
      logsRemovedAt: null,
      logsRemovedReason: null,
    });
    assert.equal(await repository.deleteJob('alice', 'job_done'), true);
  } finally {
    await repository.close();
  }
});
