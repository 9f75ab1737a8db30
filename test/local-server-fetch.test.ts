/**
 * localServerFetch after the local server moved (a refused connection): a Request object keeps
 * its method, headers and signal on the new address, and one with a body is not sent twice.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { localServerFile } from '../src/cli/client/local-server.ts';
import { localServerFetch } from '../src/cli/client/local-server-fetch.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

/** A loopback port nothing listens on (bound, then closed): connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('localServerFetch with Request objects', () => {
  let server: TestServer;
  let staleUrl: string;
  let localFetch: typeof fetch;

  before(async () => {
    server = await startTestServer();
    const { token } = await server.client('alice');
    // The local server as `mags server --local` announces itself: found again after a refusal.
    await writeFile(
      localServerFile(server.testHome.home),
      JSON.stringify({ url: server.url, token, pid: process.pid }),
      { mode: 0o600 },
    );
    staleUrl = `http://127.0.0.1:${await closedPort()}`;
    localFetch = localServerFetch(
      server.testHome.home,
      { url: staleUrl, token: 'stale-token', pid: 0 },
      fetch,
    );
  });
  after(() => server?.close());

  test('a Request keeps its method and authorization when it moves to the found server', async () => {
    const response = await localFetch(
      new Request(`${staleUrl}/v1/sandboxes/no-such-sandbox`, {
        method: 'DELETE',
        headers: { authorization: 'Bearer stale-token' },
      }),
    );
    // A GET (the method lost) would list nothing at that path; no authorization would be a 401.
    const body = (await response.json()) as { error: { code: string } };
    assert.equal(response.status, 404, JSON.stringify(body));
    assert.equal(body.error.code, 'sandbox_not_found');
  });

  test('a Request with a body is not sent again after a refused connection', async () => {
    const other = localServerFetch(
      server.testHome.home,
      { url: staleUrl, token: 'stale-token', pid: 0 },
      fetch,
    );
    await assert.rejects(
      other(
        new Request(`${staleUrl}/v1/sandboxes`, {
          method: 'POST',
          headers: { authorization: 'Bearer stale-token', 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'not-made' }),
        }),
      ),
      /fetch failed/,
    );
    const { mags } = await server.client('alice');
    assert.deepEqual(
      (await mags.sandboxes.list()).map((sandbox) => sandbox.name),
      [],
      'nothing was created',
    );
  });
});
