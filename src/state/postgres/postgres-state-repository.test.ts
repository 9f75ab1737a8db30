import { after, test } from 'node:test';
import { runStateRepositoryContract } from '../state-repository-contract.ts';
import { runTriggerStateContract } from '../state-repository-trigger-contract.ts';
import { createPostgresStateRepository } from './postgres-state-repository.ts';
import { createTestPostgresDatabase } from './postgres-test-database.ts';

// Two databases, as SQLite's test uses two files: the trigger contract lists every owner's.
const main = await createTestPostgresDatabase();
const triggers = await createTestPostgresDatabase();

if ('skip' in main || 'skip' in triggers) {
  const reason = 'skip' in main ? main.skip : 'skip' in triggers ? triggers.skip : '';
  test('state repository contract: postgres', { skip: reason }, () => {});
} else {
  after(() => Promise.all([main.drop(), triggers.drop()]));
  runStateRepositoryContract({
    name: 'postgres',
    createRepository: () => createPostgresStateRepository(main.url),
    reopen: async (previous) => {
      await previous.close();
      return createPostgresStateRepository(main.url);
    },
    openSecond: () => createPostgresStateRepository(main.url),
  });
  runTriggerStateContract({
    name: 'postgres',
    createRepository: () => createPostgresStateRepository(triggers.url),
  });
}
