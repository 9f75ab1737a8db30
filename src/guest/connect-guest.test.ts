/**
 * connectGuest over each transport, on the real agent run as a plain process (any user, no
 * sandbox): a socketpair, its listening socket, and TCP through a relay give the same answers;
 * nothing listening is `guest_unreachable`. The namespace sandbox version of this, with files
 * and a durable exec across a dropped TCP connection, is
 * src/runtimes/namespace/namespace-guest-transports.test.ts.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { startTcpRelay, type TcpRelay } from '../../test/helpers/tcp-relay.ts';
import { nativeBinaryPath } from '../config/package-paths.ts';
import { connectGuest, type GuestTransport } from './connect-guest.ts';
import type { GuestProcess } from './guest-client.ts';

const agentPath = nativeBinaryPath('mags-agent');
const skip = existsSync(agentPath)
  ? undefined
  : 'native/build/mags-agent not built: run npm run build';

const env = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C' };

async function collect(process: GuestProcess) {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  process.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const status = await process.exited;
  return {
    stdout: Buffer.concat(stdout).toString(),
    stderr: Buffer.concat(stderr).toString(),
    ...status,
  };
}

describe('connectGuest: one client over any byte stream', { skip }, () => {
  const agents: ChildProcess[] = [];
  let directory = '';
  let socketPath = '';
  let relay: TcpRelay;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-connect-guest-'));
    // A listening agent, as in a sandbox: Node cannot hand a bare listening socket to a child,
    // so a net.Server listens and its fd is inherited (renamed first: libuv unlinks it on close).
    const server = createServer();
    const bound = join(directory, 'bound.sock');
    await new Promise<void>((resolve) => server.listen(bound, resolve));
    const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
    assert.equal(typeof fd, 'number', 'this Node exposes the listening fd');
    agents.push(
      spawn(agentPath, ['--listen-fd', '3'], {
        stdio: ['ignore', 'inherit', 'inherit', fd as number],
      }),
    );
    socketPath = join(directory, 'agent.sock');
    await rename(bound, socketPath);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    relay = await startTcpRelay(socketPath);
  });
  after(async () => {
    await relay?.close();
    for (const agent of agents) agent.kill('SIGKILL');
    await rm(directory, { recursive: true, force: true });
  });

  const script = {
    argv: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'],
    env,
    cwd: '/',
  };
  const expected = { stdout: 'out\n', stderr: 'err\n', exitCode: 3, signal: null };

  test('a socketpair (stream), the unix socket and TCP through a relay: the same answers', async () => {
    // The socketpair's agent is its own process (with --fd, it lives as long as its connection).
    const paired = spawn(agentPath, ['--fd', '3'], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    });
    agents.push(paired);
    const transports: GuestTransport[] = [
      { kind: 'stream', stream: paired.stdio[3] as Duplex },
      { kind: 'unix', socketPath },
      { kind: 'tcp', host: relay.host, port: relay.port },
    ];
    for (const transport of transports) {
      const client = await connectGuest(transport);
      assert.deepEqual(await collect(client.exec(script)), expected, transport.kind);
      client.close();
      await client.closed;
    }
    assert.equal(relay.accepted, 1, 'the TCP client went through the relay');
  });

  test('nothing listening: guest_unreachable, naming where', async () => {
    const missing = join(directory, 'missing.sock');
    await assert.rejects(connectGuest({ kind: 'unix', socketPath: missing }), {
      code: 'guest_unreachable',
      message: new RegExp(missing.replaceAll('.', '\\.')),
    });
    // A port that was free a moment ago: nothing accepts on it.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await assert.rejects(connectGuest({ kind: 'tcp', host: '127.0.0.1', port }), {
      code: 'guest_unreachable',
      message: new RegExp(`127\\.0\\.0\\.1:${port}`),
    });
  });
});
