import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createPostgresStateRepository } from './postgres/postgres-state-repository.ts';
import { createTestPostgresDatabase } from './postgres/postgres-test-database.ts';
import { createSqliteStateRepository } from './sqlite/sqlite-state-repository.ts';
import { runStateRaceContract } from './state-repository-core-race-contract.ts';

// Two repositories on one storage, as two server processes on one state: SQLite's file, and a
// PostgreSQL database (skipped with the reason where there is no PostgreSQL).
const directory = await mkdtemp(join(tmpdir(), 'mags-state-races-'));
after(() => rm(directory, { recursive: true, force: true }));

describe('sqlite', () => {
  const path = join(directory, 'state.db');
  runStateRaceContract({ name: 'sqlite', open: async () => createSqliteStateRepository(path) });
});

const postgres = await createTestPostgresDatabase();
describe('postgres', () => {
  if ('skip' in postgres) {
    test('postgres two processes', { skip: postgres.skip }, () => {});
    return;
  }
  after(() => postgres.drop());
  runStateRaceContract({
    name: 'postgres',
    open: () => createPostgresStateRepository(postgres.url),
  });
});
