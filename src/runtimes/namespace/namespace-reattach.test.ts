/**
 * Sandboxes outlive the process that started them: a process starts a sandbox and is
 * SIGKILLed; another finds it (`list`), attaches, and its processes and durable execs are there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createTestHome,
  sandboxSkipReason,
  type TestHome,
} from '../../../test/helpers/test-home.ts';
import { runtimeOperation, sandboxOperation } from '../require-capability.ts';
import type { Runtime, Sandbox } from '../runtime.ts';
import { collect, shell } from '../runtime-contract.ts';
import { namespaceRuntimeOnHome } from './fixtures/namespace-runtime-on-home.ts';
import { isSandboxFrozen } from './sandbox-cgroup.ts';

const skip = sandboxSkipReason();
const fixture = join(import.meta.dirname, 'fixtures', 'start-and-hold.ts');
const numbers = (count: number) =>
  `${Array.from({ length: count }, (_, index) => index + 1).join('\n')}\n`;

describe('namespace sandboxes outlive their server process', { skip }, () => {
  let runtime: Runtime;
  let home: TestHome;
  const attached: Sandbox[] = [];
  before(async () => {
    home = await createTestHome();
    runtime = namespaceRuntimeOnHome(home.home);
  });
  const list = () => runtimeOperation(runtime, 'list')();
  const attach = (id: string) => runtimeOperation(runtime, 'attach')(id);
  const sweep = () => runtimeOperation(runtime, 'sweep')();
  after(async () => {
    await Promise.all(attached.map((sandbox) => sandbox.stop()));
    await home.cleanup();
  });

  /** Starts a sandbox in another process, then SIGKILLs that process. */
  async function startInDoomedProcess(id: string, mode?: 'pause') {
    const child = spawn(process.execPath, [fixture, home.home, id, ...(mode ? [mode] : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let line = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        line += chunk.toString();
        if (line.includes('\n')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`the fixture exited with ${code}`)));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    return JSON.parse(line) as { sleepPid: number; received: number };
  }

  test('found by list, attached: exec answers, its sleep is still there, the job output is complete', async () => {
    const id = `outlive-${randomBytes(4).toString('hex')}`;
    const { sleepPid } = await startInDoomedProcess(id);
    const listed = (await list()).find((info) => info.id === id);
    assert.deepEqual(listed?.labels, { kind: 'long-lived', name: 'dev' });
    const sandbox = await attach(id);
    attached.push(sandbox);
    const alive = await collect(
      sandbox.exec(shell(`kill -0 ${sleepPid} && echo alive`, { cwd: '/' })),
    );
    assert.equal(alive.stdout.toString(), 'alive\n');
    // The whole job output from byte 0: the dead process acknowledged little, so little is lost;
    // RESUMED says exactly where the replay starts.
    const job = sandboxOperation(
      runtime,
      sandbox,
      'resumeExec',
    )('job-1', {
      stdoutOffset: 0,
    });
    const rest = await collect(job);
    const { stdoutOffset } = await job.resumed;
    assert.equal(stdoutOffset, 0, 'nothing was acknowledged by the dead process');
    assert.equal(rest.stdout.toString(), numbers(200));
    assert.equal(rest.exitCode, 0);
    assert.equal(await sweep(), 0, 'a live sandbox a dead server started is not swept');
    assert.ok(existsSync(join(home.home, 'run', id, 'agent.sock')));
  });

  test('a sleeping sandbox stays asleep when attached, and wakes on exec', async () => {
    const id = `asleep-${randomBytes(4).toString('hex')}`;
    await startInDoomedProcess(id, 'pause');
    assert.equal(await isSandboxFrozen(id), true);
    const sandbox = await attach(id);
    attached.push(sandbox);
    assert.equal(await isSandboxFrozen(id), true, 'attaching did not wake it');
    const result = await collect(sandbox.exec(shell('echo awake', { cwd: '/' })));
    assert.equal(result.stdout.toString(), 'awake\n');
    assert.equal(await isSandboxFrozen(id), false);
  });

  test('the agent socket is 0600 and root-owned from the moment it exists, even with umask 0', async () => {
    const id = `umask-${randomBytes(4).toString('hex')}`;
    // The launcher inherits this process's umask: 0 would make a socket created by bind 0777.
    const umaskBefore = process.umask(0);
    let sandbox: Sandbox;
    try {
      sandbox = await runtime.start({
        id,
        image: { name: 'default' },
        limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
        network: { egress: 'none' },
      });
    } finally {
      process.umask(umaskBefore);
    }
    attached.push(sandbox);
    const socket = await stat(join(home.home, 'run', id, 'agent.sock'));
    assert.ok(socket.isSocket());
    assert.equal((socket.mode & 0o777).toString(8), '600');
    assert.equal(socket.uid, 0);
    assert.equal(socket.gid, 0);
  });

  test('detach in-process, attach again; stop removes it; a dead one is swept and not found', async () => {
    const id = `detach-${randomBytes(4).toString('hex')}`;
    const first = await runtime.start({
      id,
      image: { name: 'default' },
      limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
      network: { egress: 'none' },
    });
    await collect(first.exec(shell('echo kept > /tmp/mark', { cwd: '/' })));
    await sandboxOperation(runtime, first, 'detach')();
    assert.equal(first.isRunning(), false);
    const second = await attach(id);
    assert.equal((await second.readFile('/tmp/mark')).toString(), 'kept\n');
    await second.stop();
    assert.equal(existsSync(join(home.home, 'run', id)), false);
    await assert.rejects(attach(id), {
      code: 'sandbox_not_found',
    });

    // A sandbox whose launcher died (not a server: the sandbox itself) is swept.
    const deadId = `dead-${randomBytes(4).toString('hex')}`;
    await startInDoomedProcess(deadId);
    const record = JSON.parse(
      await readFile(join(home.home, 'run', deadId, 'sandbox.json'), 'utf8'),
    );
    process.kill(record.launcherPid, 'SIGKILL');
    for (let attempt = 0; attempt < 200 && existsSync(`/proc/${record.launcherPid}`); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok((await sweep()) >= 1);
    assert.equal(existsSync(join(home.home, 'run', deadId)), false);
    assert.equal(
      (await list()).some((info) => info.id === deadId),
      false,
    );
  });
});
