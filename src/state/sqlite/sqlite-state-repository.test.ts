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
