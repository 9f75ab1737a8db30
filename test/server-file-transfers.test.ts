/**
 * Downloads that never finish on their own: HEAD requests (which Hono answers by running the GET
 * and dropping its body) and clients that read the headers and then stop reading. Neither may
 * hold the sandbox agent's file slots (64, MAX_FILES in native/agent.c) for ever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitUntil } from './helpers/server-process.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping file transfer tests: ${skip}\n`);

/** Long enough to open 65 downloads on a loaded host before the first is cut off. */
const idleTimeoutMs = 10_000;
const agentFileSlots = 64;

describe('downloads that stall or are HEAD requests', { skip, timeout: 300_000 }, () => {
  let server: TestServer;
  let token: string;
  const sandbox = 'transfers';
  const download = (path: string, method = 'GET') =>
    fetch(`${server.url}/v1/sandboxes/${sandbox}/files?path=${encodeURIComponent(path)}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });

  before(async () => {
    server = await startTestServer({
      downloadIdleTimeoutMs: idleTimeoutMs,
      scheduling: { poolSize: 0 },
    });
    const client = await server.client('alice');
    token = client.token;
    await client.mags.sandboxes.create({ name: sandbox, ephemeral: true });
    const setup = await client.mags.sandboxes.execAndWait(
      sandbox,
      'truncate -s 1G /workspace/sparse && echo small > /workspace/small',
    );
    assert.equal(setup.exitCode, 0, setup.stderr);
  });
  after(() => server?.close());

  test(`${agentFileSlots + 6} HEADs answer the headers and leave every file slot free`, async () => {
    for (let index = 0; index < agentFileSlots + 6; index++) {
      const response = await download('/workspace/sparse', 'HEAD');
      assert.equal(response.status, 200, `HEAD ${index}`);
      assert.equal(response.headers.get('content-length'), String(1024 ** 3));
      assert.equal(await response.text(), '');
    }
    const response = await download('/workspace/small');
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'small\n');
  });

  test('stalled clients take every slot (503, retryable) until the idle timeout frees them', async () => {
    const stalled: Response[] = [];
    for (let index = 0; index < agentFileSlots; index++) {
      const response = await download('/workspace/sparse');
      assert.equal(response.status, 200, `download ${index}`);
      stalled.push(response); // headers read, body never
    }
    const refused = await download('/workspace/small');
    assert.equal(refused.status, 503);
    const { error } = (await refused.json()) as { error: { code: string; hint?: string } };
    assert.equal(error.code, 'too_many_transfers');
    assert.ok(error.hint);
    // Cut off after the idle timeout: the slots free without any of the clients going away.
    await waitUntil(async () => (await download('/workspace/small')).status === 200, 120_000);
    for (const response of stalled) await response.body?.cancel().catch(() => {});
  });
});
