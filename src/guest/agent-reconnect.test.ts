/**
 * The real guest agent, listening (as in a sandbox that outlives its host process): durable
 * execs (started with a key) survive a dropped connection, keep their output and exit status,
 * and are picked up again with RESUME on a new connection.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { nativeBinaryPath } from '../config/package-paths.ts';
import { GuestClient, type GuestProcess } from './guest-client.ts';
import { protocolVersion } from './protocol.ts';

const agentPath = nativeBinaryPath('mags-agent');
const skip = existsSync(agentPath)
  ? undefined
  : 'native/build/mags-agent not built: run npm run build';

const env = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C' };
const sh = (script: string, key?: string) => ({
  argv: ['/bin/sh', '-c', script],
  env,
  cwd: '/',
  ...(key ? { key } : {}),
});

async function collect(process: GuestProcess) {
  const stdout: Buffer[] = [];
  process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  const status = await process.exited;
  return { stdout: Buffer.concat(stdout).toString(), ...status };
}

/** Resolves once `process` has printed `text` (and keeps the stream flowing into `chunks`). */
function until(process: GuestProcess, chunks: Buffer[], text: string): Promise<void> {
  return new Promise((resolve) => {
    process.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes(text)) resolve();
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    if (await check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('guest agent: durable execs across connections', { skip }, () => {
  const agents: ChildProcess[] = [];
  let directory = '';
  let socketPath = '';
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-agent-reconnect-'));
  });
  after(() => rm(directory, { recursive: true, force: true }));
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.kill('SIGKILL');
  });

  // Node cannot hand a bare listening socket to a child: a net.Server listens and its fd is
  // inherited; the socket file is renamed first because libuv unlinks it when the server closes.
  async function startListeningAgent(): Promise<() => Promise<GuestClient>> {
    const server = createServer();
    const bound = join(directory, `bound-${agents.length}.sock`);
    await new Promise<void>((resolve) => server.listen(bound, resolve));
    const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
    assert.equal(typeof fd, 'number', 'this Node exposes the listening fd');
    const agent = spawn(agentPath, ['--listen-fd', '3'], {
      stdio: ['ignore', 'inherit', 'inherit', fd as number],
    });
    agents.push(agent);
    socketPath = join(directory, `agent-${agents.length}.sock`);
    await rename(bound, socketPath);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const path = socketPath;
    return () => GuestClient.connect(createConnection(path));
  }

  test('a job printing numbered lines: output complete and in order after a reconnect', async () => {
    const connect = await startListeningAgent();
    const first = await connect();
    const job = first.exec(sh('for i in $(seq 1 300); do echo $i; sleep 0.002; done', 'job-1'));
    const chunks: Buffer[] = [];
    await until(job, chunks, '\n20\n');
    const received = Buffer.concat(chunks).length;
    first.close(); // the host goes away mid-stream
    await first.closed;
    await assert.rejects(job.exited, { code: 'guest_closed' });

    const second = await connect();
    const [listed] = await second.listExecs();
    assert.equal(listed?.key, 'job-1');
    assert.equal(listed?.attached, false);
    const resumed = second.resume('job-1', { stdoutOffset: received });
    const rest = await collect(resumed);
    // The host acknowledged at most what it received: the replay starts exactly there.
    assert.equal((await resumed.resumed).stdoutOffset, received);
    const all = Buffer.concat(chunks).toString() + rest.stdout;
    assert.equal(all, `${Array.from({ length: 300 }, (_, index) => index + 1).join('\n')}\n`);
    assert.equal(rest.exitCode, 0);
    assert.deepEqual(await second.listExecs(), [], 'a delivered end is forgotten');
  });

  test('an exec that ends while no host is there keeps its output and exit status', async () => {
    const connect = await startListeningAgent();
    const first = await connect();
    const job = first.exec({
      ...sh('read line; echo done; echo oops >&2; exit 3', 'ending'),
      stdin: true,
    });
    const started = first.exec(sh('true'));
    await started.exited; // EXEC frames are handled in order: `ending` has started
    first.close();
    await first.closed;
    job.exited.catch(() => {});
    const second = await connect();
    // Its stdin closed at the disconnect, so `read` saw EOF and the script went on.
    await waitFor(async () => (await second.listExecs())[0]?.exited === true, 'the exec to end');
    const [listed] = await second.listExecs();
    assert.deepEqual(
      {
        exitCode: listed?.exitCode,
        stdoutBytes: listed?.stdoutBytes,
        stderrBytes: listed?.stderrBytes,
      },
      { exitCode: 3, stdoutBytes: 5, stderrBytes: 5 },
    );
    const resumed = second.resume('ending');
    const stderr: Buffer[] = [];
    resumed.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const result = await collect(resumed);
    assert.deepEqual(
      { stdout: result.stdout, stderr: Buffer.concat(stderr).toString(), code: result.exitCode },
      { stdout: 'done\n', stderr: 'oops\n', code: 3 },
    );
  });

  test('without a host the agent keeps 8 MiB per stream, then the command blocks; nothing is lost', async () => {
    const connect = await startListeningAgent();
    const first = await connect();
    const count = 3_000_000; // ~20 MB of distinct lines
    first
      .exec(sh(`seq 1 ${count}; seq 1 ${count} | sha256sum >&2`, 'flood'))
      .exited.catch(() => {});
    first.close();
    await first.closed;
    const second = await connect();
    let bytes = 0;
    await waitFor(async () => {
      bytes = (await second.listExecs())[0]?.stdoutBytes ?? 0;
      return bytes >= 8 * 1024 * 1024;
    }, '8 MiB kept');
    await sleep(200);
    const [held] = await second.listExecs();
    assert.equal(held?.stdoutBytes, 8 * 1024 * 1024, 'reading stopped at the limit');
    assert.equal(held?.exited, false, 'the command waits for the host');

    const resumed = second.resume('flood');
    const hash = createHash('sha256');
    resumed.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
    const stderr: Buffer[] = [];
    resumed.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    assert.equal((await resumed.exited).exitCode, 0);
    assert.equal(`${hash.digest('hex')}  -\n`, Buffer.concat(stderr).toString());
  });

  test('a gap is reported: bytes the old host acknowledged are not kept', async () => {
    const connect = await startListeningAgent();
    const first = await connect();
    const job = first.exec(sh('head -c 900000 /dev/zero; sleep 30', 'gap'));
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      job.stdout.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (Buffer.concat(chunks).length === 900_000) resolve();
      });
    });
    await first.ping(); // the acknowledgements went out before this round trip came back
    first.close();
    await first.closed;
    job.exited.catch(() => {});
    const second = await connect();
    const resumed = second.resume('gap', { stdoutOffset: 0 });
    const point = await resumed.resumed;
    assert.ok(point.stdoutOffset > 0, 'the replay starts after what was acknowledged');
    assert.ok(point.stdoutOffset <= 900_000);
    resumed.signal('SIGKILL');
    assert.equal((await resumed.exited).signal, 'SIGKILL');
  });

  test('keys: unknown is ENOENT, held by an open connection is EBUSY, a duplicate is EEXIST', async () => {
    const connect = await startListeningAgent();
    const first = await connect();
    const held = first.exec(sh('sleep 30', 'held'));
    const second = await connect();
    await assert.rejects(second.resume('nobody').exited, { errno: 2 });
    await assert.rejects(second.resume('held').exited, { errno: 16 });
    await assert.rejects(second.exec(sh('true', 'held')).exited, { errno: 17 });
    held.signal('SIGTERM');
    assert.equal((await held.exited).signal, 'SIGTERM');
  });

  test('FORGET kills a running detached exec and drops an ended one; unknown is false, held is EBUSY', async () => {
    const connect = await startListeningAgent();
    const first = await connect();
    assert.equal(first.agentProtocolVersion, protocolVersion); // FORGET needs 3 or later
    const pidFile = join(directory, 'forgotten.pid');
    const running = first.exec(sh(`echo $$ > ${pidFile}; echo ready; exec sleep 30`, 'running'));
    await until(running, [], 'ready');
    const pid = Number(await readFile(pidFile, 'utf8'));
    const ended = first.exec({ ...sh('read line; echo kept', 'ended'), stdin: true });
    await first.ping();
    first.close();
    await first.closed;
    running.exited.catch(() => {});
    ended.exited.catch(() => {});
    const second = await connect();
    await waitFor(
      async () => (await second.listExecs()).find((exec) => exec.key === 'ended')?.exited === true,
      'the exec reading stdin to end',
    );
    assert.equal(await second.forget('ended'), true);
    assert.equal(await second.forget('running'), true);
    assert.deepEqual(await second.listExecs(), [], 'both released');
    await waitFor(async () => !isAlive(pid), 'the running exec to be killed');
    await assert.rejects(second.resume('ended').exited, { errno: 2 });
    assert.equal(await second.forget('ended'), false, 'already released');
    assert.equal(await second.forget('nobody'), false);
    // A host following an exec stops it with SIGNAL; FORGET is for execs nobody holds.
    const held = second.exec(sh('sleep 30', 'held'));
    const third = await connect();
    await assert.rejects(third.forget('held'), { errno: 16 });
    await assert.rejects(second.forget('held'), { errno: 16 });
    held.signal('SIGKILL');
    assert.equal((await held.exited).signal, 'SIGKILL');
  });

  test('at most 16 ended execs are kept for a host: the one that ended first is dropped', async () => {
    const connect = await startListeningAgent();
    // One at a time, so the order they end in is known: each reads stdin, which closes when its
    // host goes away.
    for (let index = 0; index < 18; index++) {
      const host = await connect();
      const job = host.exec({ ...sh(`read line; echo ${index}`, `ended-${index}`), stdin: true });
      await host.ping(); // the EXEC was handled before this round trip came back
      host.close();
      await host.closed;
      job.exited.catch(() => {});
      const check = await connect();
      await waitFor(
        async () =>
          (await check.listExecs()).find((exec) => exec.key === `ended-${index}`)?.exited === true,
        `ended-${index} to end`,
      );
      check.close();
      await check.closed;
    }
    const host = await connect();
    const kept = (await host.listExecs()).map((exec) => exec.key).sort();
    const expected = Array.from({ length: 16 }, (_, index) => `ended-${index + 2}`).sort();
    assert.deepEqual(kept, expected);
    await assert.rejects(host.resume('ended-1').exited, { errno: 2 });
    const oldestKept = await collect(host.resume('ended-2'));
    assert.deepEqual(oldestKept, { stdout: '2\n', exitCode: 0, signal: null });
  });

  test('an exec without a key still ends with its connection', async () => {
    const connect = await startListeningAgent();
    const first = await connect();
    const pidFile = join(directory, 'plain.pid');
    const plain = first.exec(sh(`echo $$ > ${pidFile}; echo ready; exec sleep 30`));
    await until(plain, [], 'ready');
    const pid = Number(await readFile(pidFile, 'utf8'));
    first.close();
    await first.closed;
    plain.exited.catch(() => {});
    // Reaped by the agent, so the pid is gone once it handled the disconnect.
    await waitFor(async () => !isAlive(pid), 'the plain exec to be killed');
    const second = await connect();
    assert.deepEqual(await second.listExecs(), []);
  });
});
