/**
 * The real guest agent binary, run directly (no sandbox) on a socketpair: the protocol end to end.
 * Not being PID 1 here, the agent only kills its own commands' process groups on exit.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { after, afterEach, before, describe, test } from 'node:test';
import { nativeBinaryPath } from '../config/package-paths.ts';
import { GuestClient, type GuestProcess } from './guest-client.ts';
import { encodeExec, encodeFrame, type Frame, FrameDecoder, FrameType } from './protocol.ts';

const agentPath = nativeBinaryPath('mags-agent');
const skip = existsSync(agentPath)
  ? undefined
  : 'native/build/mags-agent not built: run npm run build';
if (skip) process.stdout.write(`# skipping guest agent tests: ${skip}\n`);

const env = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C' };
const sh = (script: string) => ({ argv: ['/bin/sh', '-c', script], env, cwd: '/' });

async function collect(process: GuestProcess) {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  process.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const status = await process.exited;
  return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), ...status };
}

/** Raw frames from a socket, for tests that speak the protocol by hand. */
function frameLog(socket: Duplex): Frame[] {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  socket.on('data', (chunk: Buffer) => frames.push(...decoder.push(chunk)));
  return frames;
}

const errorText = (frame: Frame | undefined) => frame?.payload.subarray(4).toString() ?? '';

describe('guest agent over a socketpair', { skip }, () => {
  const agents: ChildProcess[] = [];
  let directory = '';
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-agent-'));
  });
  after(() => rm(directory, { recursive: true, force: true }));
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.kill('SIGKILL');
  });

  function startAgent(): { agent: ChildProcess; socket: Duplex } {
    // libuv makes the extra 'pipe' a unix socketpair: exactly what the launcher passes.
    const agent = spawn(agentPath, ['--fd', '3'], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    });
    agents.push(agent);
    return { agent, socket: agent.stdio[3] as Duplex };
  }
  const client = () => GuestClient.connect(startAgent().socket);

  test('stdout and stderr apart, exit code, ping', async () => {
    const guest = await client();
    assert.ok((await guest.ping()) >= 0);
    const result = await collect(guest.exec(sh('echo out; echo err >&2; exit 3')));
    assert.deepEqual(
      { stdout: result.stdout.toString(), stderr: result.stderr.toString(), code: result.exitCode },
      { stdout: 'out\n', stderr: 'err\n', code: 3 },
    );
    assert.equal(result.signal, null);
  });

  test('binary output: all 256 byte values', async () => {
    const guest = await client();
    const escapes = Array.from(
      { length: 256 },
      (_, byte) => `\\${byte.toString(8).padStart(3, '0')}`,
    );
    const result = await collect(guest.exec(sh(`printf '${escapes.join('')}'`)));
    assert.deepEqual(result.stdout, Buffer.from(Array.from({ length: 256 }, (_, byte) => byte)));
  });

  test('100 MB of output arrives whole and in order', async () => {
    const guest = await client();
    // seq's lines are all different, so a lost, doubled or reordered frame changes the hash.
    const count = 13_000_000;
    const process = guest.exec(sh(`seq 1 ${count}; seq 1 ${count} | sha256sum >&2`));
    const hash = createHash('sha256');
    let bytes = 0;
    process.stdout.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    const result = await collect(process);
    assert.equal(result.exitCode, 0);
    assert.ok(bytes > 100_000_000, `${bytes} bytes`);
    assert.equal(`${hash.digest('hex')}  -\n`, result.stderr.toString());
  });

  test('stdin round trip through cat, 3 MB (more than one flow-control window)', async () => {
    const guest = await client();
    const data = randomBytes(3 * 1024 * 1024);
    const process = guest.exec({ ...sh('cat'), stdin: true });
    process.writeStdin(data.subarray(0, 1000));
    process.writeStdin(data.subarray(1000));
    process.closeStdin();
    const result = await collect(process);
    assert.equal(result.exitCode, 0);
    assert.ok(result.stdout.equals(data));
  });

  test('signals reach the process group, by name or number', async () => {
    const guest = await client();
    const process = guest.exec(sh('echo ready; sleep 30'));
    process.stdout.once('data', () => process.signal('SIGTERM'));
    assert.deepEqual(await process.exited, { exitCode: null, signal: 'SIGTERM' });
    const killed = guest.exec({ argv: ['sleep', '30'], env, cwd: '/' });
    killed.signal(9);
    assert.deepEqual(await killed.exited, { exitCode: null, signal: 'SIGKILL' });
  });

  test('a missing program or directory is a clear error, and the agent carries on', async () => {
    const guest = await client();
    await assert.rejects(guest.exec({ argv: ['no-such-program'], env, cwd: '/' }).exited, {
      code: 'guest_exec_failed',
      message: 'cannot run no-such-program in /: No such file or directory',
    });
    await assert.rejects(
      guest.exec({ ...sh('true'), cwd: '/no/such/dir' }).exited,
      /cannot run \/bin\/sh in \/no\/such\/dir: No such file or directory/,
    );
    await assert.rejects(
      guest.exec({ argv: ['/dev/null'], env, cwd: '/' }).exited,
      /Permission denied/,
    );
    const result = await collect(guest.exec(sh('echo still here')));
    assert.equal(result.stdout.toString(), 'still here\n');
  });

  test('20 concurrent commands each get exactly their own output', async () => {
    const guest = await client();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        collect(guest.exec(sh(`seq 1 ${10_000 + index}; echo e${index} >&2; exit ${index}`))),
      ),
    );
    results.forEach((result, index) => {
      const lines = result.stdout.toString().trim().split('\n');
      assert.equal(lines.length, 10_000 + index);
      assert.equal(lines.at(-1), String(10_000 + index));
      assert.equal(result.stderr.toString(), `e${index}\n`);
      assert.equal(result.exitCode, index);
    });
  });

  test('output nobody reads pauses only its own command', async () => {
    const guest = await client();
    const unread = guest.exec({ argv: ['cat', '/dev/zero'], env, cwd: '/' });
    const other = await collect(guest.exec(sh('head -c 5000000 /dev/zero | wc -c')));
    assert.equal(other.stdout.toString().trim(), '5000000');
    unread.signal('SIGKILL');
    assert.equal((await unread.exited).signal, 'SIGKILL');
  });

  test('EXIT does not wait for a background process holding the pipes', {
    timeout: 5000,
  }, async () => {
    const guest = await client();
    const result = await collect(guest.exec(sh('sleep 3 & echo done')));
    assert.equal(result.stdout.toString(), 'done\n');
  });

  test('files: atomic write with mode and parents, read back, errors named', async () => {
    const guest = await client();
    const data = randomBytes(1024 * 1024 + 3);
    const path = join(directory, 'deep', 'er', 'file.bin');
    await guest.writeFile(path, data, { mode: 0o600 });
    assert.ok((await guest.readFile(path)).equals(data));
    assert.ok((await readFile(path)).equals(data));
    const mode = await collect(guest.exec(sh(`stat -c %a ${path}`)));
    assert.equal(mode.stdout.toString(), '600\n');
    async function* pieces() {
      yield Buffer.from('a');
      yield Buffer.from('b');
    }
    await guest.writeFile(path, pieces());
    assert.equal((await guest.readFile(path)).toString(), 'ab');
    await assert.rejects(guest.writeFile('relative/path', Buffer.from('x')), /must be absolute/);
    await assert.rejects(guest.readFile('relative'), /must be absolute/);
    await assert.rejects(guest.readFile(join(directory, 'missing')), {
      code: 'file_not_found',
      errno: 2,
      message: `read ${join(directory, 'missing')}: No such file or directory`,
    });
  });

  test('a terminal command sees a tty of the requested size', async () => {
    const guest = await client();
    const yes = await collect(
      guest.exec({ ...sh('tty -s && echo yes'), tty: { rows: 24, cols: 80 } }),
    );
    assert.equal(yes.stdout.toString(), 'yes\r\n');
    const process = guest.exec({ ...sh('read line; stty size'), tty: { rows: 33, cols: 101 } });
    process.resize(40, 120);
    process.writeStdin('go\n');
    const size = await collect(process);
    assert.equal(size.exitCode, 0);
    assert.match(size.stdout.toString(), /40 120/);
  });

  test('garbage gets an ERROR; a broken length ends the connection and (with --fd) the agent', async () => {
    const { agent, socket } = startAgent();
    const frames = frameLog(socket);
    const exited = new Promise((resolve) => agent.on('exit', resolve));
    // The exit can be seen before the last frames are read: wait for the stream's end too.
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.write(encodeFrame(FrameType.ping, 7, Buffer.from('hi')));
    socket.write(encodeFrame(0x7f as never, 8));
    socket.write(encodeFrame(FrameType.exec, 9, Buffer.from([1, 2, 3])));
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    assert.equal(await exited, 0);
    await ended;
    assert.deepEqual(
      frames.map((frame) => [frame.type, frame.id]),
      [
        [FrameType.hello, 0],
        [FrameType.pong, 7],
        [FrameType.error, 8],
        [FrameType.error, 9],
        [FrameType.error, 0],
      ],
    );
    assert.equal(frames[1]?.payload.toString(), 'hi');
    assert.match(errorText(frames[2]), /unknown frame type/);
    assert.match(errorText(frames[3]), /malformed EXEC/);
    assert.match(errorText(frames[4]), /malformed frame length/);
  });

  test('--stdio serves fd 0 and 1', async () => {
    const agent = spawn(agentPath, ['--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    agents.push(agent);
    const socket = Duplex.from({ readable: agent.stdout, writable: agent.stdin });
    const guest = await GuestClient.connect(socket);
    const result = await collect(guest.exec(sh('echo over stdio')));
    assert.equal(result.stdout.toString(), 'over stdio\n');
  });

  test('--listen-fd: connections are independent; garbage ends only its own; SHUTDOWN ends all', async (t) => {
    // Node cannot hand a bare listening socket to a child, so a net.Server listens and its fd
    // is inherited. libuv unlinks the socket path when the server closes, so the socket file is
    // renamed first; our server closes before anyone connects and never accepts.
    const server = createServer();
    const bound = join(directory, 'bound.sock');
    await new Promise<void>((resolve) => server.listen(bound, resolve));
    const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) {
      server.close();
      return t.skip('this Node does not expose the listening fd');
    }
    const agent = spawn(agentPath, ['--listen-fd', '3'], {
      stdio: ['ignore', 'inherit', 'inherit', fd],
    });
    agents.push(agent);
    const path = join(directory, 'agent.sock');
    await rename(bound, path);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const connect = () => createConnection(path);

    const first = await GuestClient.connect(connect());
    const running = first.exec(sh('echo first; sleep 30'));
    const garbage = connect();
    const garbageFrames = frameLog(garbage);
    garbage.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await new Promise((resolve) => garbage.on('close', resolve));
    assert.equal(garbageFrames.at(-1)?.type, FrameType.error);

    const second = await GuestClient.connect(connect());
    assert.equal((await collect(second.exec(sh('echo second')))).stdout.toString(), 'second\n');
    second.close();
    await second.closed;
    assert.ok((await first.ping()) >= 0, 'the first connection is still served');

    const exited = new Promise((resolve) => agent.on('exit', resolve));
    await first.shutdown();
    await assert.rejects(running.exited, { code: 'guest_closed' });
    assert.equal(await exited, 0);
  });

  test('a stdin flood beyond the window is refused, not buffered', async () => {
    const { socket } = startAgent();
    const frames = frameLog(socket);
    socket.write(
      encodeFrame(
        FrameType.exec,
        1,
        encodeExec({ argv: ['sleep', '30'], env, cwd: '/', stdin: true }),
      ),
    );
    const chunk = Buffer.alloc(512 * 1024);
    for (let index = 0; index < 3; index++) socket.write(encodeFrame(FrameType.stdin, 1, chunk));
    await new Promise((resolve) => socket.on('close', resolve));
    assert.match(errorText(frames.at(-1)), /flow-control window/);
  });
});
