/**
 * A `mags run` with no server runs its job in a job system embedded in the CLI process. Its
 * sandbox outlives that process (the launcher has its own session), so a run that is SIGKILLed
 * mid-command leaves a sandbox and a job that reads running. The next embedded run stops that
 * sandbox (which holds the workspace it may want) and fails the job; a server started instead
 * continues the job to its end, as it does with a killed server's work. A run interrupted with
 * Ctrl-C, even twice, stops its sandbox before it exits.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';
import { goneRunReason } from '../src/server/sweep-gone-runs.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { JobRecord } from '../src/state/state-repository.ts';
import { localOwner } from '../src/workspaces/owner-workspace.ts';
import { sandboxProcesses, startServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping killed embedded run tests: ${skip}\n`);

/**
 * `mags run --json ARGS` with no server, sent `signals` (one after the other) once its stdout
 * shows `text`: its job id, once it has exited.
 */
async function signalRunAfter(
  environment: NodeJS.ProcessEnv,
  args: string[],
  text: string,
  signals: NodeJS.Signals[] = ['SIGKILL'],
): Promise<string> {
  const child = spawn(
    process.execPath,
    [join(packageRoot(), 'bin', 'mags.js'), 'run', '--json', ...args],
    { env: environment, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes(text)) resolve();
    });
    child.once('exit', () => reject(new Error(`mags run ended first: ${stdout} ${stderr}`)));
  });
  for (const [index, signal] of signals.entries()) {
    // Signals sent at once may arrive as one (a pending signal is not queued twice): the next
    // goes once the process has had time to handle this one.
    if (index > 0) await new Promise((resolve) => setTimeout(resolve, 500));
    child.kill(signal);
  }
  await exited;
  const first = JSON.parse(stdout.split('\n')[0] as string) as { type: string; jobId: string };
  assert.equal(first.type, 'started');
  return first.jobId;
}

async function job(home: string, id: string): Promise<JobRecord | undefined> {
  const repository = createSqliteStateRepository(join(home, 'state.db'));
  try {
    return await repository.getJob(localOwner, id);
  } finally {
    await repository.close();
  }
}

describe('a mags run killed mid-run (no server)', { skip }, () => {
  let testHome: TestHome;
  let environment: NodeJS.ProcessEnv;
  const servers: ChildProcess[] = [];
  before(async () => {
    testHome = await createTestHome();
    environment = {
      ...process.env,
      MAGS_HOME: testHome.home,
      XDG_CONFIG_HOME: join(testHome.home, 'config'),
    };
  });
  after(async () => {
    for (const child of servers) child.kill('SIGKILL');
    await testHome.cleanup();
  });

  test('the next run stops its sandbox (freeing its workspace) and fails its job', async () => {
    const { home } = testHome;
    const id = await signalRunAfter(
      environment,
      ['-w', 'kept', 'echo started; sleep 600'],
      '"data":"started',
    );
    assert.equal((await job(home, id))?.status, 'running');
    assert.notDeepEqual(await sandboxProcesses(home), [], 'its sandbox outlived the run');

    const next = await runCli(home, ['run', '-w', 'kept', 'echo next'], {
      env: { XDG_CONFIG_HOME: join(home, 'config') },
    });
    assert.equal(next.code, 0, next.stderr);
    assert.equal(next.stdout.toString(), 'next\n');
    assert.match(next.stderr, new RegExp(`job ${id}, left running by a mags run that was killed`));
    const killed = await job(home, id);
    assert.equal(killed?.status, 'failed');
    assert.equal(killed?.endReason, 'failed');
    assert.equal(killed?.message, goneRunReason);
    assert.deepEqual(await sandboxProcesses(home), [], 'no sandbox is left');
  });

  test('Ctrl-C twice leaves at once, but stops its sandbox first', async () => {
    const { home } = testHome;
    // The command ignores SIGTERM: the first Ctrl-C alone would take the grace period.
    const id = await signalRunAfter(
      environment,
      ["trap '' TERM; echo started; sleep 600"],
      '"data":"started',
      ['SIGINT', 'SIGINT'],
    );
    assert.deepEqual(await sandboxProcesses(home), [], 'no sandbox outlives the run');
    const stopped = await job(home, id);
    assert.equal(stopped?.status, 'stopped');
    assert.equal(stopped?.endReason, 'stopped');
  });

  test('a server started after it continues the run to its end', async () => {
    const { home } = testHome;
    const lines = Array.from({ length: 200 }, (_, index) => index + 1);
    const id = await signalRunAfter(
      environment,
      [`for i in $(seq 1 200); do echo $i; sleep 0.02; done`],
      '3\\n',
    );
    const server = await startServerProcess(environment, ['--pool-size', '0']);
    servers.push(server.child);
    await waitUntil(async () => (await job(home, id))?.status !== 'running', 30_000);
    const ended = await job(home, id);
    assert.equal(ended?.status, 'succeeded', `${ended?.reason}`);
    assert.equal(ended?.endReason, 'exited');
    const repository = createSqliteStateRepository(join(home, 'state.db'));
    try {
      const chunks = await repository.readLog(id, 0, 1024 * 1024);
      const stdout = Buffer.concat(
        chunks.filter((chunk) => chunk.stream === 'stdout').map((chunk) => chunk.data),
      ).toString();
      assert.equal(stdout, `${lines.join('\n')}\n`, 'every line, once, in order');
    } finally {
      await repository.close();
    }
  });
});
