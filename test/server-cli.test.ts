/**
 * The CLI as a client of a real `mags server` process (and of the local server it starts on
 * demand), and the server surviving SIGKILL: state stays consistent and nothing leaks.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Mags } from '../src/sdk/index.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import { sandboxProcesses, startServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping server CLI tests: ${skip}\n`);

// The main server keeps no pool, so the processes counted below are only the ones under test.
const noPool = ['--pool-size', '0'];

describe('the CLI through mags server', { skip }, () => {
  let testHome: TestHome;
  let home: string;
  let server: { child: ChildProcess; url: string };
  let token: string;
  let env: Record<string, string>;
  before(async () => {
    testHome = await createTestHome();
    home = testHome.home;
    server = await startServerProcess({ ...process.env, MAGS_HOME: home }, noPool);
    const created = await runCli(home, ['token', 'create', '--owner', 'alice']);
    assert.equal(created.code, 0, created.stderr);
    token = created.stdout.toString().trim();
    env = { MAGS_URL: server.url, MAGS_API_TOKEN: token, XDG_CONFIG_HOME: join(home, 'config') };
  });
  after(async () => {
    server.child.kill('SIGKILL');
    const local = await readFile(join(home, 'local-server.json'), 'utf8').catch(() => undefined);
    if (local) process.kill((JSON.parse(local) as { pid: number }).pid, 'SIGKILL');
    await testHome.cleanup();
  });

  test('run, list, status and logs give the same output and exit codes', async () => {
    const run = await runCli(home, ['run', 'echo hi; echo oops >&2; exit 3'], { env });
    assert.equal(run.stdout.toString(), 'hi\n');
    assert.match(run.stderr, /oops/);
    assert.equal(run.code, 3);
    const list = await runCli(home, ['list', '--json'], { env });
    const jobs = (
      JSON.parse(list.stdout.toString()) as { jobs: Array<{ id: string; runtime: string }> }
    ).jobs;
    const id = jobs[0]?.id as string;
    assert.equal(jobs[0]?.runtime, 'namespace');
    const table = (await runCli(home, ['list'], { env })).stdout.toString();
    assert.match(table, /^ID +STATUS +EXIT +WORKSPACE +RUNTIME +CREATED +COMMAND\n/);
    assert.match(table, new RegExp(`${id} +failed +3 +- +namespace `));
    const status = await runCli(home, ['status', id], { env });
    assert.match(status.stdout.toString(), /status: +failed/);
    assert.match(status.stdout.toString(), /exitCode: +3/);
    const logs = await runCli(home, ['logs', id], { env });
    assert.equal(logs.stdout.toString(), 'hi\n');
    assert.equal(logs.stderr, 'oops\n');
    const timeout = await runCli(home, ['run', '--timeout', '0.5', 'sleep 30'], { env });
    assert.equal(timeout.code, 124);
    assert.match(timeout.stderr, /timed out/);
  });

  test('new, exec, status, stop work through the server', async () => {
    assert.equal((await runCli(home, ['new', 'dev'], { env })).code, 0);
    const exec = await runCli(home, ['exec', 'dev', 'echo in $(hostname); exit 7'], { env });
    assert.equal(exec.stdout.toString(), 'in dev\n');
    assert.equal(exec.code, 7);
    assert.match((await runCli(home, ['status', 'dev'], { env })).stdout.toString(), /running/);
    assert.equal((await runCli(home, ['stop', 'dev'], { env })).code, 0);
    const refused = await runCli(home, ['exec', 'dev', 'true'], { env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /stopped[\s\S]*mags start dev/);
    // "dev" stays (stopped) for the restart test below; delete one of its own.
    assert.equal((await runCli(home, ['new', 'gone', '-e'], { env })).code, 0);
    const deleted = await runCli(home, ['delete', 'gone'], { env });
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stderr, 'mags: sandbox gone deleted\n', 'the message ends its line');
  });

  test('a wrong token is refused with a hint; mags login saves a checked token', async () => {
    const wrong = await runCli(home, ['list'], {
      env: { ...env, MAGS_API_TOKEN: `mags_${'y'.repeat(32)}` },
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Invalid API token[\s\S]*hint/);
    const config = { XDG_CONFIG_HOME: join(home, 'login-config') };
    const login = await runCli(home, ['login', '--url', server.url], { env: config, input: token });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, /as alice/);
    const list = await runCli(home, ['list'], { env: config });
    assert.equal(list.code, 0);
    assert.match(list.stdout.toString(), /echo hi/);
  });

  test('without a URL, new/exec/list go to a local server started on demand', async () => {
    const local = { XDG_CONFIG_HOME: join(home, 'no-config') };
    assert.equal((await runCli(home, ['new', 'here', '-e'], { env: local })).code, 0);
    const exec = await runCli(home, ['exec', 'here', 'echo local'], { env: local });
    assert.equal(exec.stdout.toString(), 'local\n');
    const list = await runCli(home, ['list', '--sandboxes'], { env: local });
    assert.match(list.stdout.toString(), /here +running +- +namespace /);
    const discovery = JSON.parse(await readFile(join(home, 'local-server.json'), 'utf8'));
    // The local server's token (owner `local`, admin) is refused by the public server that
    // shares its state.db.
    const refused = await fetch(`${server.url}/v1/jobs`, {
      headers: { authorization: `Bearer ${discovery.token}` },
    });
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'local_token');
    // Stopping the local server removes its address file and revokes its token; its sandboxes
    // run on, and the next command's local server picks them up.
    process.kill(discovery.pid, 'SIGTERM');
    await waitUntil(async () => !existsSync(join(home, 'local-server.json')), 5000);
    await waitUntil(async () => !existsSync(`/proc/${discovery.pid}`), 5000);
    const running = await readdir(join(home, 'run'));
    const labels = await Promise.all(
      running.map(async (id) => {
        const text = await readFile(join(home, 'run', id, 'sandbox.json'), 'utf8').catch(
          () => '{}',
        );
        return (JSON.parse(text) as { labels?: { name?: string } }).labels?.name;
      }),
    );
    assert.ok(labels.includes('here'), `still running: ${running.join(', ')}`);
    const repository = createSqliteStateRepository(join(home, 'state.db'));
    try {
      const live = (await repository.listTokens('local')).filter((token) => !token.revokedAt);
      assert.deepEqual(live, []);
    } finally {
      await repository.close();
    }
    const again = await runCli(home, ['exec', 'here', 'echo still here'], { env: local });
    assert.equal(again.stdout.toString(), 'still here\n', again.stderr);
    const listed = await runCli(home, ['list', '--sandboxes'], { env: local });
    assert.match(listed.stdout.toString(), /here +running/);
    assert.equal((await runCli(home, ['stop', 'here'], { env: local })).code, 0);
  });

  test('SIGKILL while jobs run: after a restart state is consistent and the work goes on', async () => {
    const mags = new Mags({ url: server.url, token });
    const finished = await mags.runAndWait('echo kept');
    const running = await mags.run('echo started; sleep 60');
    await waitUntil(async () => (await mags.jobs.get(running.id)).logBytes > 0, 10_000);
    server.child.kill('SIGKILL');
    await new Promise((resolve) => server.child.once('exit', resolve));
    // The sandboxes outlive their server.
    const launchers = await sandboxProcesses(home);
    assert.ok(
      launchers.some((line) => line.includes('/run/run-')),
      launchers.join('\n'),
    );

    server = await startServerProcess({ ...process.env, MAGS_HOME: home }, noPool);
    const after = new Mags({ url: server.url, token });
    assert.equal((await after.health()).status, 'ok');
    const kept = await after.jobs.get(finished.job.id);
    assert.equal(kept.status, 'succeeded');
    let output = '';
    await after.jobs.logs(finished.job.id, { onStdout: (text) => (output += text) });
    assert.equal(output, 'kept\n');
    // The job is still running, in the same sandbox; stopping it works as ever.
    assert.equal((await after.jobs.get(running.id)).status, 'running');
    const stopped = await after.jobs.stop(running.id);
    assert.equal(stopped.status, 'stopped');
    output = '';
    await after.jobs.logs(running.id, { onStdout: (text) => (output += text) });
    assert.equal(output, 'started\n');
    assert.equal((await after.sandboxes.get('dev')).status, 'stopped');
    // And it works: a new job runs.
    assert.equal((await after.runAndWait('echo alive')).stdout, 'alive\n');
  });
});
