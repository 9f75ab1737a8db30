import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runObjectStoreContract } from '../object-store-contract.ts';
import { createFilesystemObjectStore } from './filesystem-object-store.ts';

runObjectStoreContract('filesystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'mags-store-'));
  return {
    store: createFilesystemObjectStore({ root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
