/**
 * Deleting a job at the moment it finishes. Its status reads final as soon as the final record
 * is being stored; a store that takes a while to write it (PostgreSQL over a network, here a
 * real SQLite one made as slow) must not turn a delete in that moment into a 409.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NotFoundError } from '../src/errors/mags-error.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping job delete tests: ${skip}\n`);

/** How long storing a job's final state takes: far longer than the polling below needs. */
const finalWriteDelayMs = 300;

describe('deleting a job as it finishes', { skip }, () => {
  let server: TestServer;
  let stateDirectory: string;

  before(async () => {
    stateDirectory = await mkdtemp(join(tmpdir(), 'mags-job-delete-'));
    const sqlite = createSqliteStateRepository(join(stateDirectory, 'state.db'));
    const repository: StateRepository = Object.assign(Object.create(sqlite), {
      async updateJob(...[id, patch]: Parameters<StateRepository['updateJob']>) {
        if (patch.finishedAt)
          await new Promise((resolve) => setTimeout(resolve, finalWriteDelayMs));
        return sqlite.updateJob(id, patch);
      },
    });
    server = await startTestServer({ repository, scheduling: { poolSize: 0 } });
  });
  after(async () => {
    await server?.close();
    await rm(stateDirectory, { recursive: true, force: true });
  });

  test('a job deleted the moment it shows as finished is deleted (10 of 10)', async () => {
    const { jobs } = server.server.services;
    for (let index = 0; index < 10; index++) {
      const job = await jobs.submitRun('alice', { argv: ['true'], ephemeral: true });
      // The first final status a client could see: its record is still being stored.
      while (['queued', 'running'].includes((await jobs.get('alice', job.id)).status)) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await jobs.delete('alice', job.id);
      await assert.rejects(jobs.get('alice', job.id), NotFoundError);
    }
  });
});
