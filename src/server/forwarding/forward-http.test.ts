import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { HostUnavailableError } from './forward-errors.ts';
import { connectToHost, pipeRequestToHost, requestHost } from './forward-http.ts';
import { forwardedByHeader } from './host-forwarder.ts';

/**
 * A listener that never accepts: a child process listens with a backlog of 1 and then blocks
 * its event loop, so once two connections fill the kernel's accept queue, further SYNs are
 * dropped and a connect waits (Linux `listen(2)`: the backlog bounds completed connections).
 */
async function startSilentListener(): Promise<{ port: number; child: ChildProcess }> {
  const script = `
    const server = require('node:net').createServer();
    server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
      require('node:fs').writeSync(1, server.address().port + '\\n'); // before the loop blocks
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
  );
  return { port, child };
}

describe('forwarding over HTTP to another host', () => {
  let host: Server;
  let address: string;
  before(async () => {
    // The other host: answers what it got (method, path, headers, body bytes).
    host = createServer((request, response) => {
      let bytes = 0;
      request.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      request.on('end', () => {
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({
            method: request.method,
            url: request.url,
            headers: request.headers,
            bytes,
          }),
        );
      });
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    address = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  });
  after(() => host.close());

  test('method, path, query, headers (Host and token kept) and a streamed body reach the host', async () => {
    const body = Readable.from(
      (function* () {
        for (let index = 0; index < 64; index++) yield Buffer.alloc(64 * 1024, index);
      })(),
    );
    const answer = await requestHost(
      { host: 'host-b', address },
      'host-a',
      {
        method: 'PUT',
        path: '/v1/sandboxes/dev/files?path=/workspace/x',
        headers: {
          host: 'api.example.test',
          authorization: 'Bearer mags_secret',
          connection: 'keep-alive',
          'transfer-encoding': 'chunked',
          [forwardedByHeader]: 'forged',
        },
        body,
      },
      1_000,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of answer) chunks.push(chunk as Buffer);
    const seen = JSON.parse(Buffer.concat(chunks).toString());
    assert.equal(seen.method, 'PUT');
    assert.equal(seen.url, '/v1/sandboxes/dev/files?path=/workspace/x');
    assert.equal(seen.bytes, 64 * 64 * 1024);
    assert.equal(seen.headers.host, 'api.example.test');
    assert.equal(seen.headers.authorization, 'Bearer mags_secret');
    // Who forwarded it is this server, whatever the client claimed.
    assert.equal(seen.headers[forwardedByHeader], 'host-a');
    assert.equal(seen.headers['transfer-encoding'], 'chunked');
  });

  test('a host that refuses the connection is a 503 host_unavailable saying so', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const target = { host: 'host-b', address: `http://127.0.0.1:${port}` };
    const refused = (error: unknown) => {
      assert.ok(error instanceof HostUnavailableError);
      assert.equal(error.statusCode, 503);
      assert.match(error.message, /host-b is unavailable: it refused the connection/);
      // The host's address is not the owner's business: it stays in the cause (the server's log).
      assert.doesNotMatch(error.message, /127\.0\.0\.1/);
      return true;
    };
    await assert.rejects(
      requestHost(target, 'host-a', { method: 'GET', path: '/', headers: {} }, 1_000),
      refused,
    );
    await assert.rejects(connectToHost(target, 1_000), refused);
  });

  test('a host that never accepts is unavailable after the connect timeout, not a hang', async () => {
    const { port, child } = await startSilentListener();
    // They fill its accept queue (a backlog of 1 holds two).
    const fillers: Socket[] = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
    try {
      for (const filler of fillers) await new Promise((resolve) => filler.once('connect', resolve));
      const target = { host: 'host-b', address: `http://127.0.0.1:${port}` };
      const timedOut = (error: unknown) => {
        assert.ok(error instanceof HostUnavailableError);
        assert.match(error.message, /did not accept a connection within 300 ms/);
        return true;
      };
      await assert.rejects(
        requestHost(target, 'host-a', { method: 'GET', path: '/', headers: {} }, 300),
        timedOut,
      );
      await assert.rejects(connectToHost(target, 300), timedOut);
    } finally {
      for (const filler of fillers) filler.destroy();
      child.kill('SIGKILL');
    }
  });

  describe('a host that takes the request and never answers (frozen)', () => {
    let frozen: Server;
    let target: { host: string; address: string };
    const received: IncomingMessage[] = [];
    before(async () => {
      // Headers never come; `/v1/stream` sends its headers and then nothing more.
      frozen = createServer((request, response) => {
        received.push(request);
        if (request.url === '/v1/stream') {
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.write('data: first\n\n');
        }
      });
      await new Promise<void>((resolve) => frozen.listen(0, '127.0.0.1', resolve));
      target = {
        host: 'host-b',
        address: `http://127.0.0.1:${(frozen.address() as AddressInfo).port}`,
      };
    });
    after(() => {
      frozen.closeAllConnections();
      frozen.close();
    });
    const get = (path: string) => ({ method: 'GET', path, headers: {} });

    test('no headers within the response timeout: a 503, not a hang', async () => {
      const started = Date.now();
      await assert.rejects(
        requestHost(target, 'host-a', get('/v1/sandboxes/dev/exec'), {
          connectTimeoutMs: 1_000,
          responseTimeoutMs: 300,
        }),
        (error: unknown) =>
          error instanceof HostUnavailableError &&
          error.statusCode === 503 &&
          /host-b is unavailable: it did not answer within 0.3 s/.test(error.message),
      );
      assert.ok(Date.now() - started < 5_000);
    });

    test('its host found silent while it waits ends it with why, before headers and mid-stream', async () => {
      let checks = 0;
      const silentAfterTwo = async () => (++checks > 2 ? 'no heartbeat for 16 s' : undefined);
      await assert.rejects(
        requestHost(target, 'host-a', get('/v1/sandboxes/dev/exec'), {
          connectTimeoutMs: 1_000,
          unavailable: silentAfterTwo,
          checkMs: 50,
        }),
        (error: unknown) =>
          error instanceof HostUnavailableError &&
          /host-b is unavailable: no heartbeat for 16 s/.test(error.message),
      );
      assert.equal(checks, 3);
      checks = 0;
      const answer = await requestHost(target, 'host-a', get('/v1/stream'), {
        connectTimeoutMs: 1_000,
        responseTimeoutMs: 1_000,
        unavailable: silentAfterTwo,
        checkMs: 50,
      });
      assert.equal(answer.statusCode, 200);
      // The stream's headers came in time; the host then froze: the stream ends, it does not hang.
      await new Promise<void>((resolve) => {
        answer.once('close', resolve);
        answer.resume();
      });
      assert.ok(checks >= 3);
    });

    test('a client that leaves before the answer closes the connection to the host', async () => {
      // An API-less front server passing URL requests on, as the URL proxy does.
      const front = createServer((request, response) => {
        void pipeRequestToHost(target, 'host-a', request, response, { connectTimeoutMs: 1_000 });
      });
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
      try {
        const before = received.length;
        const client = httpRequest({
          host: '127.0.0.1',
          port: (front.address() as AddressInfo).port,
          path: '/app',
        });
        client.on('error', () => {});
        client.end();
        const deadline = Date.now() + 5_000;
        while (received.length === before && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const atHost = received.at(-1) as IncomingMessage;
        assert.equal(atHost.url, '/app');
        const closed = new Promise<void>((resolve) => atHost.socket.once('close', () => resolve()));
        client.destroy();
        await closed; // without it, the host's socket stays open while it does not answer
      } finally {
        front.closeAllConnections();
        front.close();
      }
    });

    test('an aborted signal destroys the request to the host', async () => {
      const left = new AbortController();
      const before = received.length;
      const waiting = requestHost(target, 'host-a', get('/v1/sandboxes/dev/exec'), {
        connectTimeoutMs: 1_000,
        signal: left.signal,
      });
      const deadline = Date.now() + 5_000;
      while (received.length === before && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const atHost = received.at(-1) as IncomingMessage;
      const closed = new Promise<void>((resolve) => atHost.socket.once('close', () => resolve()));
      left.abort();
      await assert.rejects(waiting, /client closed its connection/);
      await closed;
    });
  });
});
