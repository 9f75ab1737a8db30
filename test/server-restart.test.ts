/**
 * Sandboxes outlive the server: a real `mags server` process is SIGKILLed while a job prints,
 * a long-lived sandbox runs a process, one sandbox is parked and one sleeps; the next server
 * process on the host picks all of it up. A shell session says why it ended. Two server
 * processes sharing one state database each recover only their own work.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';
import { Mags } from '../src/sdk/index.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import { startServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping server restart tests: ${skip}\n`);

const numbers = (count: number) =>
  `${Array.from({ length: count }, (_, index) => index + 1).join('\n')}\n`;
const printNumbers = (count: number) => `for i in $(seq 1 ${count}); do echo $i; sleep 0.01; done`;

type ServerProcess = { child: ChildProcess; url: string };

async function kill(server: ServerProcess): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGKILL');
  await exited;
}

/** The server process (state's `server` column) holding each of these jobs or sandboxes. */
async function holders(home: string, owner: string, jobs: string[], sandboxes: string[]) {
  const repository = createSqliteStateRepository(join(home, 'state.db'));
  try {
    const found: Record<string, string | null | undefined> = {};
    for (const id of jobs) found[id] = (await repository.getJob(owner, id))?.server;
    for (const name of sandboxes) found[name] = (await repository.getSandbox(owner, name))?.server;
    return found;
  } finally {
    await repository.close();
  }
}

describe('a server restart keeps the work running', { skip }, () => {
  const servers: ServerProcess[] = [];
  let testHome: TestHome | undefined;
  before(async () => {
    testHome = await createTestHome();
  });
  after(async () => {
    await Promise.all(servers.map(kill));
    await testHome?.cleanup();
  });

  async function serve(home: string, flags: string[] = []): Promise<ServerProcess> {
    const server = await startServerProcess({ ...process.env, MAGS_HOME: home }, [
      '--pool-size',
      '0',
      '--sleep-after',
      '1',
      ...flags,
    ]);
    servers.push(server);
    return server;
  }

  test('SIGKILL: a printing job, a busy, a parked and a sleeping sandbox all carry on', async () => {
    const { home } = testHome as TestHome;
    const created = await runCli(home, ['token', 'create', '--owner', 'alice']);
    const token = created.stdout.toString().trim();
    let server = await serve(home);
    let mags = new Mags({ url: server.url, token });

    // (c) a finished run's sandbox parked for its workspace, marked in its own /dev/shm.
    const parked = await mags.runAndWait('echo warm > /dev/shm/marker', { workspace: 'parked' });
    assert.equal(parked.exitCode, 0);
    // (d) a sandbox that falls asleep.
    await mags.sandboxes.create({ name: 'sleeper', ephemeral: true });
    // (b) a long-lived sandbox running a process (kept awake), and an exec job printing in it.
    await mags.sandboxes.create({ name: 'dev', ephemeral: true, sleep: false });
    const started = await mags.sandboxes.execAndWait('dev', 'sleep 300 >/dev/null 2>&1 & echo $!');
    const sleepPid = Number(started.stdout.trim());
    assert.ok(sleepPid > 1, started.stdout);
    const execJob = await mags.sandboxes.exec('dev', printNumbers(300));
    // (a) a run job printing numbered lines, on a workspace synced to nothing (plain -w).
    const runJob = await mags.run(printNumbers(400), { workspace: 'printing' });
    await waitUntil(
      async () => (await mags.sandboxes.get('sleeper')).status === 'sleeping',
      15_000,
    );
    await waitUntil(async () => (await mags.jobs.get(runJob.id)).logBytes > 50, 15_000);
    await waitUntil(async () => (await mags.jobs.get(execJob.id)).logBytes > 50, 15_000);

    await kill(server);
    // Output goes on while no server is there.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    server = await serve(home);
    mags = new Mags({ url: server.url, token });

    const run = await mags.jobs.wait(runJob.id);
    assert.equal(run.job.status, 'succeeded', `${run.job.reason} ${run.stderr}`);
    assert.equal(run.job.endReason, 'exited');
    assert.equal(run.stdout, numbers(400), 'every line, once, in order');
    const exec = await mags.jobs.wait(execJob.id);
    assert.equal(exec.job.status, 'succeeded', `${exec.job.reason} ${exec.stderr}`);
    assert.equal(exec.job.endReason, 'exited');
    assert.equal(exec.stdout, numbers(300));

    assert.equal((await mags.sandboxes.get('dev')).status, 'running');
    const alive = await mags.sandboxes.execAndWait('dev', `kill -0 ${sleepPid} && echo alive`);
    assert.equal(alive.stdout, 'alive\n', 'the sleep process is still there');

    assert.equal((await mags.sandboxes.get('sleeper')).status, 'sleeping', 'it stays asleep');
    assert.equal((await mags.sandboxes.execAndWait('sleeper', 'echo awake')).stdout, 'awake\n');

    const reused = await mags.runAndWait('cat /dev/shm/marker 2>/dev/null || echo none', {
      workspace: 'parked',
    });
    assert.equal(reused.stdout, 'warm\n', 'the parked sandbox served the next run');
  });

  test('a run continued after a restart still ends at its timeout, counted from its start', async () => {
    const home = (testHome as TestHome).home;
    const created = await runCli(home, ['token', 'create', '--owner', 'timer']);
    const token = created.stdout.toString().trim();
    let server = await serve(home);
    let mags = new Mags({ url: server.url, token });
    const job = await mags.run('echo go; sleep 600', { timeoutSeconds: 4 });
    await waitUntil(async () => (await mags.jobs.get(job.id)).logBytes > 0, 15_000);
    await kill(server);
    server = await serve(home);
    mags = new Mags({ url: server.url, token });
    const ended = await mags.jobs.wait(job.id);
    assert.equal(ended.job.status, 'failed', `${ended.job.reason} ${ended.stderr}`);
    assert.equal(ended.job.endReason, 'timed_out');
    assert.match(ended.job.message ?? '', /^timed out after 4 s/);
    assert.equal(ended.stdout, 'go\n');
  });

  test('a shell session says why it ended when the server goes; a new one works after', async () => {
    const home = (testHome as TestHome).home;
    const created = await runCli(home, ['token', 'create', '--owner', 'shelly']);
    const token = created.stdout.toString().trim();
    let server = await serve(home);
    let mags = new Mags({ url: server.url, token });
    await mags.sandboxes.create({ name: 'term', ephemeral: true, sleep: false });
    const env = {
      ...process.env,
      MAGS_HOME: home,
      MAGS_URL: server.url,
      MAGS_API_TOKEN: token,
      XDG_CONFIG_HOME: join(home, 'no-config'),
    };
    const shell = spawn(
      process.execPath,
      [join(packageRoot(), 'bin', 'mags.js'), 'shell', 'term'],
      {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    shell.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    shell.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => shell.once('exit', resolve));
    shell.stdin.write('echo ready-$((40+2))\n');
    await waitUntil(async () => stdout.includes('ready-42'), 15_000);
    await kill(server);
    assert.equal(await exited, 255);
    assert.match(stderr, /connection to the server was lost .*Sandbox term keeps running/s);

    server = await serve(home);
    mags = new Mags({ url: server.url, token });
    const again = await runCli(home, ['shell', 'term'], {
      env: { ...env, MAGS_URL: server.url },
      input: 'echo back-$((1+1))\nexit 3\n',
    });
    assert.match(again.stdout.toString(), /back-2/);
    assert.equal(again.code, 3);
  });

  test('two server processes on one state database each recover only their own work', async () => {
    const home = (testHome as TestHome).home;
    const created = await runCli(home, ['token', 'create', '--owner', 'twins']);
    const token = created.stdout.toString().trim();
    const first = await serve(home);
    const second = await serve(home);
    const one = new Mags({ url: first.url, token });
    const two = new Mags({ url: second.url, token });
    await one.sandboxes.create({ name: 'box-1', ephemeral: true, sleep: false });
    await two.sandboxes.create({ name: 'box-2', ephemeral: true, sleep: false });
    const job1 = await one.run(printNumbers(500));
    const job2 = await two.run(printNumbers(500));
    await waitUntil(async () => (await one.jobs.get(job1.id)).logBytes > 20, 15_000);
    await waitUntil(async () => (await two.jobs.get(job2.id)).logBytes > 20, 15_000);
    const before = await holders(home, 'twins', [job1.id, job2.id], ['box-1', 'box-2']);
    assert.notEqual(before['box-1'], before['box-2']);

    await kill(first);
    const third = await serve(home);
    const three = new Mags({ url: third.url, token });
    const after = await holders(home, 'twins', [job1.id, job2.id], ['box-1', 'box-2']);
    // The live second server's work is untouched; the first's moved to the third.
    assert.equal(after[job2.id], before[job2.id]);
    assert.equal(after['box-2'], before['box-2']);
    assert.equal(after[job1.id], after['box-1']);
    assert.notEqual(after['box-1'], before['box-1']);
    assert.notEqual(after['box-1'], before['box-2']);

    // Each server finishes its own job and serves its own sandbox.
    assert.equal((await three.jobs.wait(job1.id)).stdout, numbers(500));
    assert.equal((await two.jobs.wait(job2.id)).stdout, numbers(500));
    assert.equal((await three.sandboxes.execAndWait('box-1', 'echo one')).stdout, 'one\n');
    assert.equal((await two.sandboxes.execAndWait('box-2', 'echo two')).stdout, 'two\n');
  });
});
