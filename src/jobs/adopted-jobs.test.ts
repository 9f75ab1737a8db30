/**
 * Jobs another server process started, continued after it died (JobManager.adoptRun through
 * continueRun, and adoptExec), root-free: the fake runtime's sandboxes and durable commands
 * outlive the "server" objects that started them (test/helpers/fake-server-host.ts), as namespace
 * sandboxes outlive a killed `mags server` (test/server-restart.test.ts does that with real
 * processes, as root).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  fakeServerHosts,
  jobOutput as output,
  sh,
  storedBeyond,
  waitForFile as waitFor,
} from '../../test/helpers/fake-server-host.ts';
import { waitUntil } from '../../test/helpers/server-process.ts';
import { newJob } from './new-job.ts';

const numbers = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => `${from + index}\n`).join('');
const print = (from: number, to: number) => `for i in $(seq ${from} ${to}); do echo $i; done`;

describe('jobs continued by the next server process (fake runtime, any user)', () => {
  const newHost = fakeServerHosts();

  test('a run whose command ended while no server was there: its whole output, in order, then its end', async () => {
    const host = await newHost();
    const gate = join(host.fake.home, 'gate');
    const first = await host.start();
    const job = await first.jobs.submitRun('alice', {
      argv: sh(`${print(1, 100)}; ${waitFor(gate)}; ${print(101, 400)}; exit 0`),
      workspace: 'printing',
    });
    await storedBeyond(first, 'alice', job.id, 50);
    const { sandboxId } = await first.jobs.get('alice', job.id);
    assert.ok(sandboxId);
    await first.kill();

    // It finishes while no server is there: its end and unread output wait in the sandbox.
    await writeFile(gate, '');
    await waitUntil(async () => {
      const probe = await host.runtime.attach(sandboxId);
      try {
        return (await probe.listExecs()).some((exec) => exec.key === job.id && exec.exited);
      } finally {
        await probe.detach();
      }
    }, 10_000);

    const second = await host.start();
    assert.deepEqual(second.report, {
      jobsContinued: 1,
      sandboxesReattached: 0,
      parked: 0,
      jobsFailed: 0,
      sandboxesGone: 0,
      stopped: 0,
      failures: 0,
    });
    const done = await second.jobs.wait('alice', job.id);
    assert.equal(done.status, 'succeeded', `${done.reason}`);
    assert.equal(done.endReason, 'exited');
    assert.equal(done.exitCode, 0);
    assert.equal(done.server, second.instance.server);
    assert.deepEqual(await output(second, 'alice', job.id), {
      stdout: numbers(1, 400),
      stderr: '',
    });
    // Its end was delivered: the sandbox (parked for the workspace) no longer holds the command.
    const parked = await host.runtime.attach(sandboxId);
    assert.deepEqual(await parked.listExecs(), []);
    await parked.detach();
  });

  test('a run continued after a restart still ends at its timeout, counted from its start', async () => {
    const host = await newHost();
    const first = await host.start();
    const job = await first.jobs.submitRun('timer', {
      argv: sh('echo go; sleep 600'),
      timeoutSeconds: 2,
    });
    await storedBeyond(first, 'timer', job.id, 0);
    await first.kill();
    const second = await host.start();
    assert.equal(second.report.jobsContinued, 1);
    const done = await second.jobs.wait('timer', job.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.endReason, 'timed_out');
    assert.match(done.message ?? '', /^timed out after 2 s/);
    assert.equal((await output(second, 'timer', job.id)).stdout, 'go\n');
  });

  test('an exec job still running is resumed: its output goes on where the stored log ends', async () => {
    const host = await newHost();
    const gate = join(host.fake.home, 'gate');
    const first = await host.start();
    await first.sandboxes.create('alice', { name: 'dev', ephemeral: true, sleep: false });
    const job = await first.sandboxes.submitExec(
      'alice',
      'dev',
      { argv: sh(`${print(1, 100)}; echo err >&2; ${waitFor(gate)}; ${print(101, 300)}; exit 4`) },
      first.jobs,
    );
    await storedBeyond(first, 'alice', job.id, 50);
    await first.kill();

    const second = await host.start();
    assert.equal(second.report.jobsContinued, 1);
    assert.equal(second.report.sandboxesReattached, 1);
    await writeFile(gate, '');
    const done = await second.jobs.wait('alice', job.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.endReason, 'exited');
    assert.equal(done.exitCode, 4);
    assert.deepEqual(await output(second, 'alice', job.id), {
      stdout: numbers(1, 300),
      stderr: 'err\n',
    });
    // The sandbox is the next server's now, and serves it.
    const again = await second.sandboxes.submitExec(
      'alice',
      'dev',
      { argv: sh('echo again') },
      second.jobs,
    );
    await second.jobs.wait('alice', again.id);
    assert.equal((await output(second, 'alice', again.id)).stdout, 'again\n');
  });

  test('output a dead server had read but not stored is a gap the job reports, then goes on after it', async () => {
    const host = await newHost();
    const gate = join(host.fake.home, 'gate');
    const first = await host.start();
    await first.sandboxes.create('alice', { name: 'dev', ephemeral: true, sleep: false });
    // What a server leaves when it dies after reading output and before storing it: a running
    // job with nothing stored, whose command's first 600000 bytes were read (and acknowledged).
    const record = {
      ...newJob(
        'alice',
        'exec',
        ['/bin/sh', '-c', '(600000 bytes, then a line)'],
        null,
        'dev',
        'fake',
      ),
      ...first.instance,
      status: 'running' as const,
      startedAt: new Date().toISOString(),
      runOptions: { timeoutSeconds: 60 },
    };
    await first.repository.insertJob(record);
    const { sandbox, release } = await first.sandboxes.use('alice', 'dev');
    const command = sandbox.exec({
      argv: sh(`head -c 600000 /dev/zero | tr '\\0' a; ${waitFor(gate)}; echo tail`),
      env: { PATH: '/usr/bin:/bin' },
      cwd: '/workspace',
      key: record.id,
    });
    command.exited.catch(() => {}); // ends with the server's hold on the sandbox
    let read = 0;
    await new Promise<void>((resolve) => {
      command.stdout.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read === 600_000) resolve();
      });
    });
    release();
    await first.kill();

    const second = await host.start();
    assert.equal(second.report.jobsContinued, 1);
    await writeFile(gate, '');
    const done = await second.jobs.wait('alice', record.id);
    assert.equal(done.status, 'succeeded', `${done.reason}`);
    const { stdout, stderr } = await output(second, 'alice', record.id);
    // The replay starts after what the dead server had acknowledged (whole batches of what it
    // read): it knows exactly how much it lost, and says so.
    const lost = Number(
      /^mags: (\d+) bytes of output were lost while the server restarted/.exec(stderr)?.[1],
    );
    assert.ok(lost > 0 && lost <= 600_000, stderr);
    assert.equal(stdout, `${'a'.repeat(600_000 - lost)}tail\n`);
  });
});
