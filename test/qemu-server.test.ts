/**
 * The qemu runtime behind a real `mags server` process: runs on a workspace record their runtime,
 * the VM a run leaves parked serves the next run (the warm cache is where a TCG microVM is fast),
 * a run on the other runtime takes the workspace over, and a SIGKILLed server's successor picks
 * up a printing job and the parked VM (the agent waits on its virtio-serial port for a new host).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { nativeBinaryPath } from '../src/config/package-paths.ts';
import { checkQemuHost } from '../src/runtimes/qemu/check-qemu-host.ts';
import { Mags } from '../src/sdk/index.ts';
import { startServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const numbers = (count: number) =>
  `${Array.from({ length: count }, (_, index) => index + 1).join('\n')}\n`;

async function qemuSkipReason(home: string): Promise<string | undefined> {
  const sandboxes = sandboxSkipReason();
  if (sandboxes) return sandboxes;
  const check = await checkQemuHost({
    home,
    environment: process.env,
    initPath: nativeBinaryPath('mags-vm-init'),
    agentPath: nativeBinaryPath('mags-agent'),
  });
  return check.ok ? undefined : `the qemu runtime cannot run here: ${check.problems.join('; ')}`;
}

describe('the qemu runtime through a server', () => {
  const servers: ChildProcess[] = [];
  let testHome: TestHome | undefined;
  let skip: string | undefined;
  before(async () => {
    testHome = await createTestHome();
    skip = await qemuSkipReason(testHome.home);
    if (skip) process.stdout.write(`# skipping qemu server tests: ${skip}\n`);
  });
  after(async () => {
    for (const child of servers) child.kill('SIGKILL');
    await testHome?.cleanup();
  });

  async function serve(home: string) {
    const server = await startServerProcess({ ...process.env, MAGS_HOME: home }, [
      '--pool-size',
      '0',
      '--runtime',
      'qemu',
    ]);
    servers.push(server.child);
    return server;
  }

  test('a parked VM serves the next run; a SIGKILLed server is succeeded without losing either', async (t) => {
    if (skip) return t.skip(skip);
    const { home } = testHome as TestHome;
    const created = await runCli(home, ['token', 'create', '--owner', 'vm-user']);
    const token = created.stdout.toString().trim();
    let server = await serve(home);
    let mags = new Mags({ url: server.url, token });

    // The server's default runtime is qemu: the guest kernel is Debian's, not the host's.
    const first = await mags.runAndWait(
      'echo warm > /dev/shm/marker; echo kept > notes.txt; uname -r',
      { workspace: 'vm' },
    );
    assert.equal(first.exitCode, 0, first.stderr);
    assert.match(first.stdout, /-amd64\n$/);
    assert.equal(first.job.runtime, 'qemu');
    const warm = await mags.runAndWait('cat /dev/shm/marker notes.txt', { workspace: 'vm' });
    assert.equal(warm.stdout, 'warm\nkept\n', 'the parked VM served the second run');

    // A job printing while its server is SIGKILLed.
    const printing = await mags.run('for i in $(seq 1 60); do echo $i; sleep 0.05; done', {
      workspace: 'printing',
    });
    await waitUntil(async () => (await mags.jobs.get(printing.id)).logBytes > 10, 60_000);
    server.child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 500));
    server = await serve(home);
    mags = new Mags({ url: server.url, token });
    const continued = await mags.jobs.wait(printing.id);
    assert.equal(continued.job.status, 'succeeded', `${continued.job.reason} ${continued.stderr}`);
    assert.equal(continued.stdout, numbers(60), 'every line, once, in order');
    const stillWarm = await mags.runAndWait('cat /dev/shm/marker', { workspace: 'vm' });
    assert.equal(stillWarm.stdout, 'warm\n', 'the VM parked before the restart was attached again');

    // A command past its timeout is ended and reported as such (the VM stops with it).
    const slow = await mags.runAndWait('echo started; sleep 600', {
      workspace: 'slow',
      timeoutSeconds: 3,
    });
    assert.equal(slow.job.status, 'failed');
    assert.equal(slow.job.endReason, 'timed_out');
    assert.equal(slow.stdout, 'started\n');

    // The namespace runtime takes the workspace over: the parked VM is stopped first, and the
    // files it wrote are the workspace's.
    const other = await mags.runAndWait(
      'cat notes.txt; cat /dev/shm/marker 2>/dev/null || echo cold',
      {
        workspace: 'vm',
        runtime: 'namespace',
      },
    );
    assert.equal(other.job.runtime, 'namespace');
    assert.equal(other.stdout, 'kept\ncold\n');
  });
});
