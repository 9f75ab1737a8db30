/**
 * The files API and request bodies against a real `mags server` process, measured from outside:
 * its RSS (from /proc) while a 2 GiB file streams through it, devices and FIFOs refused, cancelled
 * downloads releasing the sandbox agent's file slots, and oversized bodies answered before they
 * are read.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Mags } from '../src/sdk/index.ts';
import { rssBytes } from './helpers/host-measures.ts';
import { partialRequest } from './helpers/partial-request.ts';
import { startServerProcess } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping server files tests: ${skip}\n`);

const mebibyte = 1024 * 1024;
/**
 * The bound: a streamed download holds about one flow-control window (1 MiB) in the server, plus
 * socket buffers; 200 MiB over the server's RSS before the download leaves room for the garbage
 * collector's slack and nothing for a buffered file (the 2 GiB file alone would be 2048 MiB).
 */
const rssGrowthBoundBytes = 200 * mebibyte;

describe('files API and body limits on a real server process', { skip, timeout: 600_000 }, () => {
  let testHome: TestHome;
  let server: { child: ChildProcess; url: string };
  let token: string;
  let mags: Mags;
  let serverPid: number;
  const sandbox = 'files';
  const download = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}/v1/sandboxes/${sandbox}/files?path=${encodeURIComponent(path)}`, {
      ...init,
      headers: { authorization: `Bearer ${token}` },
    });

  before(async () => {
    testHome = await createTestHome();
    const environment = { ...process.env, MAGS_HOME: testHome.home };
    server = await startServerProcess(environment, [
      '--pool-size',
      '0',
      '--max-download-mib',
      '3072',
    ]);
    serverPid = server.child.pid as number;
    const created = await runCli(testHome.home, ['token', 'create', '--owner', 'alice']);
    assert.equal(created.code, 0, created.stderr);
    token = created.stdout.toString().trim();
    mags = new Mags({ url: server.url, token });
    await mags.sandboxes.create({ name: sandbox, ephemeral: true });
    const setup = await mags.sandboxes.execAndWait(
      sandbox,
      'truncate -s 2G /workspace/sparse && truncate -s 3073M /workspace/over && mkfifo /workspace/fifo && echo small > /workspace/small',
    );
    assert.equal(setup.exitCode, 0, setup.stderr);
    assert.equal(
      Buffer.from(await mags.sandboxes.files.read(sandbox, '/workspace/small')).toString(),
      'small\n',
    );
  });
  after(async () => {
    server.child.kill('SIGKILL');
    await testHome.cleanup();
  });

  test(`a 2 GiB download streams with the server's RSS under +${rssGrowthBoundBytes / mebibyte} MiB`, async () => {
    const startRss = await rssBytes(serverPid);
    const response = await download('/workspace/sparse');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), String(2 * 1024 ** 3));
    let received = 0;
    let peakRss = startRss;
    let nextSample = 0;
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      received += chunk.length;
      if (received >= nextSample) {
        nextSample += 64 * mebibyte;
        peakRss = Math.max(peakRss, await rssBytes(serverPid));
      }
    }
    assert.equal(received, 2 * 1024 ** 3);
    const growth = peakRss - startRss;
    process.stdout.write(
      `# server RSS ${Math.round(startRss / mebibyte)} MiB at start, peak +${Math.round(growth / mebibyte)} MiB during a 2 GiB download\n`,
    );
    assert.ok(growth < rssGrowthBoundBytes, `RSS grew by ${growth} bytes`);
  });

  test('/dev/zero, a FIFO and a directory are 400 at once; over the limit is 413', async () => {
    const startRss = await rssBytes(serverPid);
    for (const [path, code] of [
      ['/dev/zero', 'not_a_regular_file'],
      ['/workspace/fifo', 'not_a_regular_file'],
      ['/workspace', 'is_a_directory'],
    ]) {
      const response = await download(path as string);
      assert.equal(response.status, 400, path);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, code);
    }
    const over = await download('/workspace/over');
    assert.equal(over.status, 413);
    assert.equal(((await over.json()) as { error: { code: string } }).error.code, 'file_too_large');
    const growth = (await rssBytes(serverPid)) - startRss;
    assert.ok(growth < rssGrowthBoundBytes, `RSS grew by ${growth} bytes`);
  });

  test("70 cancelled downloads leave the agent's 64 file slots free", async () => {
    for (let index = 0; index < 70; index++) {
      const abort = new AbortController();
      const response = await download('/workspace/sparse', { signal: abort.signal });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // the download has begun...
      abort.abort(); // ...and the client goes away
      await reader.read().catch(() => {});
    }
    const response = await download('/workspace/small');
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'small\n');
  });

  test('the SDK downloads to a local file, streamed; a refused one leaves no file', async () => {
    const destination = join(testHome.home, 'small.copy');
    assert.equal(await mags.sandboxes.files.download(sandbox, '/workspace/small', destination), 6);
    assert.equal(await readFile(destination, 'utf8'), 'small\n');
    const refused = join(testHome.home, 'over.copy');
    await assert.rejects(mags.sandboxes.files.download(sandbox, '/workspace/over', refused), {
      statusCode: 413,
    });
    assert.equal(existsSync(refused), false);
  });

  test('an oversized body is 413 before it is read, on every route but the upload', async () => {
    const startRss = await rssBytes(serverPid);
    const declared = 700 * mebibyte;
    for (const [method, path] of [
      ['PATCH', '/v1/sandboxes/files'],
      ['POST', '/v1/sandboxes/x/files'],
      ['POST', '/v1/jobs'],
    ]) {
      // Only 4 MiB of the declared 700 MiB is sent: an answer proves the rest was not awaited,
      // and the client reading it while still sending (not a reset) proves the server lingers.
      for (let attempt = 0; attempt < 3; attempt++) {
        const status = await partialRequest(
          server.url,
          { method: method as string, path: path as string, token },
          declared,
          4 * mebibyte,
        );
        assert.match(status, /^HTTP\/1\.1 413 /, `${method} ${path}`);
      }
    }
    // Without a declared length the body is counted as it comes and refused at the JSON limit.
    let sentMiB = 0;
    const chunked = await fetch(`${server.url}/v1/sandboxes/files`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        // 8 MiB in all, so the request ends even if the refusal is only read at its end.
        pull(controller) {
          controller.enqueue(new Uint8Array(mebibyte).fill(0x20));
          if (++sentMiB === 8) controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit).catch((error: Error) => error);
    if (chunked instanceof Response) assert.equal(chunked.status, 413);
    const growth = (await rssBytes(serverPid)) - startRss;
    assert.ok(growth < 100 * mebibyte, `RSS grew by ${growth} bytes`);
  });
});
