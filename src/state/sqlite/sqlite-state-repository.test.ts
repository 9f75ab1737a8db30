import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { MagsError } from '../../errors/mags-error.ts';
import { runStateRepositoryContract } from '../state-repository-contract.ts';
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
  const { sqliteMigrations } = await import('./sqlite-migrations.ts');
  const old = join(directory, 'version-1.db');
  const database = new DatabaseSync(old);
  database.exec(sqliteMigrations[0] as string);
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
