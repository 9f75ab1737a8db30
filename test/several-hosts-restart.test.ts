/**
 * A host restarted with the same --host-id (a crash and a supervisor's restart, an upgrade)
 * picks up its running jobs as a single server does, on the shared PostgreSQL state, and a
 * client following the job through an API-only server sees it to its end.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { Mags } from '../src/sdk/mags.ts';
import { createToken } from '../src/server/tokens.ts';
import { createPostgresStateRepository } from '../src/state/postgres/postgres-state-repository.ts';
import { createTestPostgresDatabase } from '../src/state/postgres/postgres-test-database.ts';
import { startServerProcess, stopServerProcess } from './helpers/server-process.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const sandboxSkip = sandboxSkipReason();
const postgres = sandboxSkip ? { skip: sandboxSkip } : await createTestPostgresDatabase();
const skip = 'skip' in postgres ? postgres.skip : undefined;
if (skip) process.stdout.write(`# skipping the host restart test: ${skip}\n`);

describe('a host restarted with its id, on shared state', { skip }, () => {
  const homes: TestHome[] = [];
  const children: ChildProcess[] = [];
  after(async () => {
    for (const child of children) await stopServerProcess(child, { stopSandboxes: true });
    for (const home of homes) await home.cleanup();
    if ('drop' in postgres) await postgres.drop();
  });

  test('continues its job, followed to the end through the API-only server', async () => {
    const stateUrl = 'url' in postgres ? postgres.url : '';
    const start = async (home: string, flags: string[]) => {
      const started = await startServerProcess({ ...process.env, MAGS_HOME: home }, [
        '--state',
        stateUrl,
        '--heartbeat',
        '0.5',
        '--host-timeout',
        '30',
        '--pool-size',
        '0',
        ...flags,
      ]);
      children.push(started.child);
      return started;
    };
    const hostHome = await createTestHome();
    const apiHome = await createTestHome();
    homes.push(hostHome, apiHome);
    const host = await start(hostHome.home, ['--host-id', 'steady']);
    const api = await start(apiHome.home, ['--host-id', 'front', '--api-only']);
    const repository = await createPostgresStateRepository(stateUrl);
    const { token } = await createToken(repository, 'alice', 'restart');
    await repository.close();
    const mags = new Mags({ url: api.url, token });

    const job = await mags.run('echo one; sleep 4; echo two');
    assert.equal(job.host, 'steady');
    let output = '';
    let restarted: Promise<unknown> | undefined;
    const ended = await mags.jobs.logs(job.id, {
      onStdout: (text) => {
        output += text;
        // Mid-job: the host's server stops, leaving its sandboxes running, and starts again.
        restarted ??= stopServerProcess(host.child).then(() =>
          start(hostHome.home, ['--host-id', 'steady']),
        );
      },
    });
    await restarted;
    assert.equal(output, 'one\ntwo\n');
    assert.equal(ended.status, 'succeeded');
    assert.equal(ended.host, 'steady');
  });
});
