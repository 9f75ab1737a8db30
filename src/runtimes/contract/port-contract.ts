import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { MagsError } from '../../errors/mags-error.ts';
import type { Sandbox } from '../runtime.ts';
import { type ContractHarness, shell } from './contract-harness.ts';

/**
 * An HTTP server for the sandbox's `node`: `/bytes/N` answers N bytes, a POST answers how many
 * bytes it was sent; it prints `listening` once it accepts connections.
 */
export const testHttpServerScript = `
const http = require('node:http');
http.createServer((request, response) => {
  let received = 0;
  request.on('data', (chunk) => { received += chunk.length; });
  request.on('end', () => {
    const size = Number(/^\\/bytes\\/(\\d+)$/.exec(request.url)?.[1] ?? -1);
    if (size >= 0) {
      response.end(Buffer.alloc(size, 'x'));
    } else {
      response.end(request.method + ' ' + request.url + ' ' + received);
    }
  });
}).listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening'));
`;

/** Starts the test server on `port` and waits until it listens. */
export async function startTestHttpServer(sandbox: Sandbox, port: number): Promise<void> {
  const server = sandbox.exec(
    shell(`exec node -e "$SCRIPT" ${port}`, {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', SCRIPT: testHttpServerScript },
    }),
  );
  let output = '';
  let errors = '';
  server.stderr.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('listening')) resolve();
    });
    server.exited.then(
      (status) => reject(new Error(`the test server exited (${status.exitCode}): ${errors}`)),
      reject,
    );
  });
}

/** Sends one HTTP/1.1 request over the stream and reads the whole answer (`Connection: close`). */
async function request(stream: Duplex, head: string, body = Buffer.alloc(0)): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  stream.write(
    `${head}\r\nHost: sandbox\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  stream.end(body);
  await ended;
  return Buffer.concat(chunks);
}

function bodyOf(answer: Buffer): Buffer {
  const end = answer.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no HTTP answer: ${answer.subarray(0, 200).toString()}`);
  return answer.subarray(end + 4);
}

/** `Sandbox.openPort`: a port inside reached through the agent (capability `ports`). */
export function registerPortContract({ it, start }: ContractHarness): void {
  it(
    'reaches a server inside the sandbox through openPort, without a network',
    async () => {
      const sandbox = await start({ network: { egress: 'none' } });
      assert.ok(sandbox.openPort);
      await startTestHttpServer(sandbox, 8080);
      const small = await request(await sandbox.openPort(8080), 'GET /hello HTTP/1.1');
      assert.match(small.toString(), /^HTTP\/1\.1 200 OK/);
      assert.equal(bodyOf(small).toString(), 'GET /hello 0');
      // Both ways past the agent's 1 MiB credit window: flow control, not one buffer.
      const size = 3 * 1024 * 1024 + 17;
      const download = await request(await sandbox.openPort(8080), `GET /bytes/${size} HTTP/1.1`);
      const downloaded = bodyOf(download);
      assert.equal(downloaded.length, size);
      assert.ok(downloaded.every((byte) => byte === 0x78));
      const upload = await request(
        await sandbox.openPort(8080),
        'POST /upload HTTP/1.1',
        Buffer.alloc(size, 1),
      );
      assert.equal(bodyOf(upload).toString(), `POST /upload ${size}`);
    },
    'ports',
  );

  it(
    'openPort where nothing listens is a 502 that names the port',
    async () => {
      const sandbox = await start();
      assert.ok(sandbox.openPort);
      await assert.rejects(
        sandbox.openPort(8099),
        (error: unknown) =>
          error instanceof MagsError &&
          error.code === 'port_not_listening' &&
          error.statusCode === 502 &&
          error.message.includes('8099'),
      );
      // The sandbox is unharmed: commands still run.
      const still = sandbox.exec(shell('echo ok'));
      assert.equal((await still.exited).exitCode, 0);
    },
    'ports',
  );
}
