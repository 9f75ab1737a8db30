/**
 * The agent's port relay (EXEC flag "connect", protocol version 4), the real agent binary run
 * directly on a socketpair (no sandbox): its loopback is the host's, where this test listens.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, test } from 'node:test';
import { nativeBinaryPath } from '../config/package-paths.ts';
import { GuestClient } from './guest-client.ts';

const agentPath = nativeBinaryPath('mags-agent');
const skip = existsSync(agentPath)
  ? undefined
  : 'native/build/mags-agent not built: run npm run build';

/** A loopback server running `onConnection`; resolves with its port. */
async function listen(servers: Server[], onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function readAll(stream: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

describe('guest agent: connecting to a port', { skip }, () => {
  const agents: ChildProcess[] = [];
  const servers: Server[] = [];
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.kill('SIGKILL');
    for (const server of servers.splice(0)) server.close();
  });
  const client = () => {
    const agent = spawn(agentPath, ['--fd', '3'], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    });
    agents.push(agent);
    return GuestClient.connect(agent.stdio[3] as Duplex);
  };

  test('the end of what the host sends half-closes the socket; the server answer then ends the stream', async () => {
    const port = await listen(servers, (socket) => {
      let received = 0;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      socket.on('end', () => socket.end(`received ${received}`));
    });
    const stream = await (await client()).openPort(port);
    const answer = readAll(stream);
    stream.end(Buffer.alloc(3 * 1024 * 1024 + 5, 1));
    assert.equal((await answer).toString(), `received ${3 * 1024 * 1024 + 5}`);
  });

  test('a server that answers while it still reads does not deadlock the relay (8 MiB echoed)', async () => {
    const port = await listen(servers, (socket) => socket.pipe(socket));
    const stream = await (await client()).openPort(port);
    const sent = Buffer.alloc(8 * 1024 * 1024);
    for (let index = 0; index < sent.length; index++) sent[index] = index % 251;
    const answer = readAll(stream);
    stream.end(sent);
    assert.ok((await answer).equals(sent));
  });

  test('destroying the stream closes the connection in the server; the agent serves on', async () => {
    let closed: () => void = () => {};
    const serverSaw = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const port = await listen(servers, (socket) => {
      // The relay killed, its socket is closed: the server reads EOF (or a reset).
      socket.on('end', () => closed());
      socket.on('error', () => closed());
      socket.resume();
    });
    const guest = await client();
    const stream = await guest.openPort(port);
    stream.destroy();
    await serverSaw;
    assert.ok((await guest.ping()) >= 0);
  });

  test('a server that never accepts (its queue full) is given up on after 5 s; the agent serves on', async () => {
    // listen(0) and no accept: the kernel queues one connection, then drops SYNs (and the client
    // would retry them for minutes): python3, since a Node server always accepts.
    const listener = spawn('python3', [
      '-c',
      'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)',
    ]);
    agents.push(listener);
    const port = Number(
      await new Promise<string>((resolve) =>
        listener.stdout.once('data', (line) => resolve(String(line))),
      ),
    );
    const queued = connect(port, '127.0.0.1');
    await new Promise((resolve) => queued.once('connect', resolve));
    try {
      const guest = await client();
      await assert.rejects(guest.openPort(port), {
        code: 'port_not_accepting',
        statusCode: 502,
        message: `The server on port ${port} inside the sandbox does not accept connections.`,
      });
      assert.ok((await guest.ping()) >= 0);
    } finally {
      queued.destroy();
    }
  });

  test('refused: nothing listening (502), a port that is no number, a terminal', async () => {
    const guest = await client();
    const port = await listen(servers, () => {});
    const unused = servers.pop() as Server;
    await new Promise((resolve) => unused.close(resolve));
    await assert.rejects(guest.openPort(port), {
      code: 'port_not_listening',
      statusCode: 502,
      message: `Nothing listens on port ${port} inside the sandbox.`,
    });
    await assert.rejects(guest.openPort(0), { code: 'invalid_port', statusCode: 400 });
    const notNumber = guest.exec({ argv: ['http'], env: {}, cwd: '/', stdin: true, connect: true });
    await assert.rejects(notNumber.exited, { errno: 22, message: /cannot connect to port http/ });
    const terminal = guest.exec({
      argv: ['80'],
      env: {},
      cwd: '/',
      connect: true,
      tty: { rows: 24, cols: 80 },
    });
    await assert.rejects(terminal.exited, { errno: 22, message: /no terminal/ });
  });
});
