/**
 * The real guest agent binary, run directly (no sandbox) on a socketpair: the protocol end to end.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach, describe, test } from 'node:test';
import { nativeBinaryPath } from '../config/package-paths.ts';
import { collect, shell } from '../runtimes/runtime-contract.ts';
import { GuestClient } from './guest-client.ts';
import { encodeFrame, FrameDecoder, FrameType } from './protocol.ts';

const agentPath = nativeBinaryPath('mags-agent');
const skip = existsSync(agentPath) ? undefined : `${agentPath} is not built: run npm run build`;
if (skip) process.stdout.write(`# skipping guest agent tests: ${skip}\n`);

describe('guest agent over a socketpair', { skip }, () => {
  const agents: ChildProcess[] = [];
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.kill('SIGKILL');
  });
  function startAgent(): { agent: ChildProcess; socket: Duplex } {
    const agent = spawn(agentPath, ['--fd', '3'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    agents.push(agent);
    return { agent, socket: agent.stdio[3] as Duplex };
  }
  async function client(): Promise<GuestClient> {
    return GuestClient.connect(startAgent().socket);
  }

  test('stdin round trip through cat, 2 MB', async () => {
    const guest = await client();
    const data = randomBytes(2 * 1024 * 1024);
    const process = guest.exec({ ...shell('cat'), cwd: '/', stdin: true });
    const result = collect(process);
    process.writeStdin(data);
    process.closeStdin();
    const { stdout, exitCode } = await result;
    assert.equal(exitCode, 0);
    assert.equal(
      createHash('sha256').update(stdout).digest('hex'),
      createHash('sha256').update(data).digest('hex'),
    );
  });

  test('a signal reaches the command and is reported', async () => {
    const guest = await client();
    const process = guest.exec({ ...shell('echo ready; sleep 30'), cwd: '/' });
    process.stdout.once('data', () => process.signal('SIGTERM'));
    const result = await collect(process);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGTERM');
  });

  test('a missing program or directory is a clear error, and the agent carries on', async () => {
    const guest = await client();
    await assert.rejects(
      collect(guest.exec({ argv: ['no-such-program'], env: { PATH: '/usr/bin:/bin' }, cwd: '/' })),
      /cannot run no-such-program in \/: No such file or directory/,
    );
    await assert.rejects(
      collect(guest.exec({ ...shell('true'), cwd: '/no/such/dir' })),
      /No such file or directory/,
    );
    assert.equal(
      (await collect(guest.exec({ ...shell('echo still here'), cwd: '/' }))).stdout.toString(),
      'still here\n',
    );
  });

  test('20 concurrent commands each get exactly their own output', async () => {
    const guest = await client();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        collect(guest.exec({ ...shell(`seq 1 ${1000 + index}; echo e${index} >&2`), cwd: '/' })),
      ),
    );
    results.forEach((result, index) => {
      const lines = result.stdout.toString().trim().split('\n');
      assert.equal(lines.length, 1000 + index);
      assert.equal(lines.at(-1), String(1000 + index));
      assert.equal(result.stderr.toString(), `e${index}\n`);
    });
  });

  test('files: atomic write with mode, read back, errors named', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'mags-agent-'));
    try {
      const guest = await client();
      const data = randomBytes(1024 * 1024 + 3);
      const path = join(directory, 'deep', 'er', 'file.bin');
      await guest.writeFile(path, data, { mode: 0o600 });
      assert.deepEqual(await guest.readFile(path), data);
      const mode = await collect(guest.exec({ ...shell(`stat -c %a ${path}`), cwd: '/' }));
      assert.equal(mode.stdout.toString(), '600\n');
      await assert.rejects(guest.writeFile('relative/path', Buffer.from('x')), /absolute/);
      await assert.rejects(
        guest.readFile(join(directory, 'missing')),
        /read .*missing: No such file or directory/,
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  test('a terminal command sees a tty', async () => {
    const guest = await client();
    const result = await collect(
      guest.exec({
        ...shell('test -t 0 && test -t 1 && stty size'),
        cwd: '/',
        tty: { rows: 33, cols: 101 },
      }),
    );
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout.toString(), /33 101/);
  });

  test('garbage on the wire gets an ERROR and ends the connection (and with it the agent)', async () => {
    const { agent, socket } = startAgent();
    const decoder = new FrameDecoder();
    const frames: Array<{ type: number; message: string }> = [];
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk))
        frames.push({ type: frame.type, message: frame.payload.subarray(4).toString() });
    });
    const exited = new Promise((resolve) => agent.on('exit', resolve));
    socket.write(encodeFrame(FrameType.ping, 7, Buffer.from('hi')));
    socket.write(encodeFrame(0x7f as never, 8));
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    assert.equal(await exited, 0);
    assert.deepEqual(
      frames.map((frame) => frame.type),
      [FrameType.hello, FrameType.pong, FrameType.error, FrameType.error],
    );
    assert.match(frames[2]?.message ?? '', /unknown frame type/);
    assert.match(frames[3]?.message ?? '', /malformed frame length/);
  });
});
