/**
 * Requests for a sandbox held by another host are forwarded there (issue 17, item 2): real
 * server processes, each with its own MAGS_HOME and host id, share one state (one SQLite file)
 * as a cluster: A serves the API only, B and C are hosts. `mags new` through A
 * lands on B (a workspace parked warm on C lands on C); exec, files, `mags cp` of a tree, a
 * shell and a sandbox URL through A all reach the sandbox on B. Another owner gets a 404
 * through A (never a proxied probe); a forged loop header is refused (never forwarded twice);
 * B killed is a clear 503 through A at once, and once found gone its sandbox starts on C.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isWarmAt } from '../src/cluster/warm-workspace-versions.ts';
import { Mags } from '../src/sdk/index.ts';
import { forwardedByHeader } from '../src/server/forwarding/host-forwarder.ts';
import { createToken } from '../src/server/tokens.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import { endServerProcess, startClusterServerProcess } from './helpers/cluster-server-process.ts';
import { rssBytes } from './helpers/host-measures.ts';
import { sandboxWebApp } from './helpers/sandbox-web-app.ts';
import { waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
const mebibyte = 1024 * 1024;
if (skip) process.stdout.write(`# skipping forwarding tests: ${skip}\n`);

interface Host {
  id: string;
  testHome: TestHome;
  child: ChildProcess;
  url: string;
}

/** A raw HTTP exchange (any method, any header, the answer as text). */
function exchange(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
    });
    outgoing.on('response', (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () =>
        resolve({
          status: answer.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          headers: answer.headers,
        }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

/** An upgrade handshake's status (and the socket, when switched). */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    outgoing.on('upgrade', (answer, socket) => {
      socket.destroy();
      resolve({ status: answer.statusCode ?? 0 });
    });
    outgoing.on('response', (answer) => {
      answer.resume();
      resolve({ status: answer.statusCode ?? 0 });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('requests forwarded to the host holding the sandbox', { skip, timeout: 600_000 }, () => {
  const hosts: Host[] = [];
  let shared: TestHome;
  let stateFile: string;
  let state: StateRepository;
  let alice: Mags;
  let aliceOnB: Mags;
  let aliceToken: string;
  let bobToken: string;
  let apiServer: Host;
  let hostB: Host;
  let hostC: Host;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  async function startHost(id: string, apiOnly = false): Promise<Host> {
    const testHome = await createTestHome();
    const { child, url } = await startClusterServerProcess({
      home: testHome.home,
      state: stateFile,
      hostId: id,
      apiOnly,
      // Every server of a cluster serves the URLs of one domain (README).
      urlDomain: 'example.test',
    });
    const host = { id, testHome, child, url };
    hosts.push(host);
    return host;
  }

  before(async () => {
    shared = await createTestHome();
    stateFile = join(shared.home, 'shared-state.db');
    // The test's own connection to the shared state: tokens, and what the servers recorded.
    state = createSqliteStateRepository(stateFile);
    apiServer = await startHost('api-a', true);
    hostB = await startHost('host-b');
    hostC = await startHost('host-c');
    aliceToken = (await createToken(state, 'alice', 'test')).token;
    bobToken = (await createToken(state, 'bob', 'test')).token;
    alice = new Mags({ url: apiServer.url, token: aliceToken });
    aliceOnB = new Mags({ url: hostB.url, token: aliceToken });
  });

  after(async () => {
    for (const host of hosts.reverse()) {
      await endServerProcess(host.child, 'SIGTERM');
      await host.testHome.cleanup();
    }
    await state?.close();
    await shared?.cleanup();
  });

  test('mags new through the API-only server lands on a host; a warm workspace on its host', async () => {
    const created = await runCli(apiServer.testHome.home, ['new', 'dev'], {
      env: { MAGS_URL: apiServer.url, MAGS_API_TOKEN: aliceToken },
    });
    assert.equal(created.code, 0, created.stderr);
    // Both hosts idle: the placement's tie goes by id.
    assert.equal((await state.getSandbox('alice', 'dev'))?.host, 'host-b');
    // A run on C parks its sandbox with the workspace `warm` there; C's heartbeat says so.
    const aliceOnC = new Mags({ url: hostC.url, token: aliceToken });
    const run = await aliceOnC.runAndWait('echo warm > /workspace/mark', { workspace: 'warm' });
    assert.equal(run.exitCode, 0);
    await waitUntil(
      async () =>
        (await state.listHosts()).some(
          // Named with its copy's store version (`alice.warm@0`: never synced).
          (host) => host.id === 'host-c' && isWarmAt(host.warmWorkspaces, 'alice.warm', undefined),
        ),
      10_000,
    );
    const placed = await alice.sandboxes.create({ name: 'beside-warm', workspace: 'warm' });
    assert.equal(placed.status, 'running');
    assert.equal((await state.getSandbox('alice', 'beside-warm'))?.host, 'host-c');
    const seen = await alice.sandboxes.execAndWait('beside-warm', 'cat /workspace/mark');
    assert.equal(seen.stdout, 'warm\n');
    await alice.sandboxes.delete('beside-warm');
  });

  test('exec through A runs on B; its output is followed through A', async () => {
    let streamed = '';
    const result = await alice.sandboxes.execAndWait(
      'dev',
      'echo "$(hostname) ran it" > /workspace/who; cat /workspace/who; echo oops >&2; exit 4',
      { onStdout: (text) => (streamed += text) },
    );
    assert.equal(result.exitCode, 4);
    assert.equal(result.stdout, 'dev ran it\n');
    assert.equal(result.stderr, 'oops\n');
    assert.equal(streamed, 'dev ran it\n');
    const jobs = await alice.jobs.list({ sandbox: 'dev' });
    const job = jobs.jobs[0];
    assert.ok(job);
    assert.equal((await state.getJob('alice', job.id))?.host, 'host-b');
  });

  test('a file up and down through A streams to and from B, byte for byte', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    await alice.sandboxes.files.write('dev', '/workspace/blob', data);
    const viaB = await aliceOnB.sandboxes.files.read('dev', '/workspace/blob');
    assert.equal(
      createHash('sha256').update(viaB).digest('hex'),
      createHash('sha256').update(data).digest('hex'),
    );
    const viaA = await alice.sandboxes.files.read('dev', '/workspace/blob');
    assert.ok(Buffer.from(viaA).equals(data));
    const listing = await alice.sandboxes.files.list('dev', '/workspace');
    assert.ok(listing.entries.some((entry) => entry.name === 'blob'));
  });

  test('mags cp of a tree through A into the sandbox on B, and back out', async () => {
    const home = apiServer.testHome.home;
    const tree = join(home, 'tree');
    await mkdir(join(tree, 'nested'), { recursive: true });
    await writeFile(join(tree, 'top.txt'), 'top\n');
    await writeFile(join(tree, 'nested', 'leaf.txt'), 'leaf\n');
    await symlink('nested/leaf.txt', join(tree, 'link'));
    const env = { MAGS_URL: apiServer.url, MAGS_API_TOKEN: aliceToken };
    const copied = await runCli(home, ['cp', tree, 'dev:/workspace/tree'], { env });
    assert.equal(copied.code, 0, copied.stderr);
    const seen = await aliceOnB.sandboxes.files.read('dev', '/workspace/tree/nested/leaf.txt');
    assert.equal(Buffer.from(seen).toString(), 'leaf\n');
    const back = join(home, 'back');
    const out = await runCli(home, ['cp', 'dev:/workspace/tree', back], { env });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await readFile(join(back, 'top.txt'), 'utf8'), 'top\n');
    assert.equal(await readFile(join(back, 'link'), 'utf8'), 'leaf\n');
  });

  test('mags cp into a workspace that a sandbox on B uses goes through that sandbox', async () => {
    await aliceOnB.sandboxes.create({ name: 'holder', workspace: 'held' });
    const home = apiServer.testHome.home;
    const file = join(home, 'note.txt');
    await writeFile(file, 'through the holder\n');
    const env = { MAGS_URL: apiServer.url, MAGS_API_TOKEN: aliceToken };
    const copied = await runCli(home, ['cp', file, 'held:/workspace/note.txt'], { env });
    assert.equal(copied.code, 0, copied.stderr);
    const seen = await aliceOnB.sandboxes.execAndWait('holder', 'cat /workspace/note.txt');
    assert.equal(seen.stdout, 'through the holder\n');
    const back = join(home, 'note-back.txt');
    const out = await runCli(home, ['cp', 'held:/workspace/note.txt', back], { env });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await readFile(back, 'utf8'), 'through the holder\n');
    await aliceOnB.sandboxes.delete('holder');
  });

  test('a shell through A is a PTY in the sandbox on B', async () => {
    const socket = new WebSocket(alice.sandboxes.shellUrl('dev', { rows: 30, cols: 90 }), {
      headers: bearer(aliceToken),
    } as unknown as string[]);
    socket.binaryType = 'arraybuffer';
    let output = '';
    let exit: { exitCode: number } | undefined;
    socket.addEventListener('message', (event) => {
      if (typeof event.data === 'string') exit = JSON.parse(event.data);
      else output += Buffer.from(event.data as ArrayBuffer).toString();
    });
    const closed = new Promise((resolve) => socket.addEventListener('close', resolve));
    await new Promise((resolve) => socket.addEventListener('open', resolve));
    socket.send(new TextEncoder().encode('stty size; cat /workspace/who; exit 3\n'));
    await closed;
    assert.match(output, /30 90/);
    assert.match(output, /dev ran it/);
    assert.equal(exit?.exitCode, 3);
  });

  /** Starts the web app in a sandbox (through A) and makes a URL to it (through A). */
  async function serveApp(name: string) {
    await alice.sandboxes.files.write(name, '/tmp/app.js', sandboxWebApp);
    const started = await alice.sandboxes.execAndWait(name, [
      'sh',
      '-c',
      'setsid node /tmp/app.js 8080 > /tmp/app.log 2>&1 < /dev/null &',
    ]);
    assert.equal(started.exitCode, 0, started.stderr);
    return alice.sandboxes.urls.create(name, { port: 8080 });
  }

  test('a host-form sandbox URL made and used through A reaches the app on B', async () => {
    const made = await serveApp('dev');
    // Made by B for a request that came to A: the address is A's (the Host header stayed).
    const host = new URL(made.url).host;
    assert.match(host, /^8080-dev-[0-9a-f]{8}\.example\.test:\d+$/);
    assert.equal(new URL(made.url).port, new URL(apiServer.url).port);
    /** A request to the URL: A is reached on loopback, its Host names the URL. */
    const at = (path: string, token: string, options: { method?: string; body?: Buffer } = {}) =>
      exchange(`${apiServer.url}${path}`, { ...options, headers: { host, ...bearer(token) } });
    await waitUntil(async () => (await at('/hello', aliceToken)).status === 200, 30_000);
    const answer = await at('/echo?q=1', aliceToken, {
      method: 'POST',
      body: Buffer.alloc(3 * 1024 * 1024, 1),
    });
    assert.equal(answer.status, 200, answer.body);
    const seen = JSON.parse(answer.body);
    assert.equal(seen.url, '/echo?q=1');
    assert.equal(seen.headers.host, host);
    assert.equal(seen.received, 3 * 1024 * 1024);
    assert.equal(seen.headers.authorization, undefined, "the owner's token is never the app's");
    assert.equal(seen.headers[forwardedByHeader], undefined, 'between mags servers only');
    const big = await at(`/bytes/${20 * 1024 * 1024}`, aliceToken);
    assert.equal(big.body.length, 20 * 1024 * 1024);
    const switched = await upgrade(`${apiServer.url}/ws`, { host, ...bearer(aliceToken) });
    assert.equal(switched.status, 101);
    // Bob's token does not open alice's private URL on A: refused there, not forwarded.
    const refused = await at('/hello', bobToken);
    assert.ok([403, 404].includes(refused.status), `${refused.status} ${refused.body}`);
  });

  test('a path-form sandbox URL through A carries a WebSocket to the app on B', async () => {
    // No DNS label (`_`): its URL takes the path form even with a domain.
    await aliceOnB.sandboxes.create({ name: 'web_path', ephemeral: true });
    const made = await serveApp('web_path');
    assert.ok(made.url.startsWith(`${apiServer.url}/u/`), made.url);
    await waitUntil(
      async () =>
        (await exchange(`${made.url}hello`, { headers: bearer(aliceToken) })).status === 200,
      30_000,
    );
    const socket = new WebSocket(`${made.url.replace(/^http/, 'ws')}ws`, {
      headers: bearer(aliceToken),
    } as unknown as string[]);
    const echoed = new Promise<string>((resolve) =>
      socket.addEventListener('message', (event) => resolve(String(event.data))),
    );
    await new Promise((resolve) => socket.addEventListener('open', resolve));
    socket.send('across hosts');
    assert.equal(await echoed, 'echo: across hosts');
    socket.close();
    await alice.sandboxes.delete('web_path');
  });

  test("another owner's sandbox is a 404 through A, never forwarded", async () => {
    const bob = new Mags({ url: apiServer.url, token: bobToken });
    await assert.rejects(bob.sandboxes.exec('dev', 'true'), { statusCode: 404 });
    await assert.rejects(bob.sandboxes.files.read('dev', '/workspace/who'), { statusCode: 404 });
    await assert.rejects(bob.sandboxes.stop('dev'), { statusCode: 404 });
    const shell = await upgrade(`${apiServer.url}/v1/sandboxes/dev/shell`, bearer(bobToken));
    assert.equal(shell.status, 404);
    assert.equal((await state.getSandbox('alice', 'dev'))?.status, 'running');
  });

  test('a forged forwarded-by header is refused, never forwarded a second time', async () => {
    const path = '/v1/sandboxes/dev/files?path=/workspace/who';
    const forged = await exchange(`${apiServer.url}${path}`, {
      headers: { ...bearer(aliceToken), [forwardedByHeader]: 'host-z' },
    });
    assert.equal(forged.status, 502, forged.body);
    const error = JSON.parse(forged.body).error;
    assert.equal(error.code, 'forward_loop');
    for (const name of ['host-z', 'api-a', 'host-b']) assert.match(error.message, new RegExp(name));
    // The holding host answers a forwarded request itself.
    const atB = await exchange(`${hostB.url}${path}`, {
      headers: { ...bearer(aliceToken), [forwardedByHeader]: 'api-a' },
    });
    assert.equal(atB.status, 200);
    assert.equal(atB.body, 'dev ran it\n');
    const shell = await upgrade(`${apiServer.url}/v1/sandboxes/dev/shell`, {
      ...bearer(aliceToken),
      [forwardedByHeader]: 'host-z',
    });
    assert.equal(shell.status, 502);
    // The API-only server starts no sandbox for a request that says it was forwarded there.
    const create = await exchange(`${apiServer.url}/v1/sandboxes`, {
      method: 'POST',
      headers: {
        ...bearer(aliceToken),
        'content-type': 'application/json',
        [forwardedByHeader]: 'host-z',
      },
      body: Buffer.from(JSON.stringify({ name: 'sneaky', ephemeral: true })),
    });
    assert.equal(create.status, 502, create.body);
    assert.match(JSON.parse(create.body).error.message, /api-a, which runs no sandbox/);
    assert.equal(await state.getSandbox('alice', 'sneaky'), undefined);
  });

  /** Big enough that a copy held in memory on A would show (as in cli-cp.test.ts). */
  const bigMiB = Number(process.env.CP_TEST_MIB ?? 256);

  test(`a ${bigMiB} MiB file streams through A both ways; A holds well under it`, async () => {
    const home = apiServer.testHome.home;
    const big = join(home, 'big');
    await mkdir(big);
    const bytes = Buffer.alloc(bigMiB * mebibyte);
    for (let offset = 0; offset < bytes.length; offset += 4) bytes.writeUInt32LE(offset, offset);
    await writeFile(join(big, 'blob.bin'), bytes);
    const digest = createHash('sha256').update(bytes).digest('hex');
    const env = { MAGS_URL: apiServer.url, MAGS_API_TOKEN: aliceToken };
    const pid = apiServer.child.pid as number;
    const before = await rssBytes(pid);
    let peak = before;
    const sampler = setInterval(() => {
      rssBytes(pid).then(
        (bytes) => {
          peak = Math.max(peak, bytes);
        },
        () => {},
      );
    }, 20);
    try {
      const up = await runCli(home, ['cp', big, 'dev:/workspace/big'], { env });
      assert.equal(up.code, 0, up.stderr);
      const check = await aliceOnB.sandboxes.execAndWait(
        'dev',
        'sha256sum /workspace/big/blob.bin',
      );
      assert.equal(check.stdout.split(' ')[0], digest);
      const down = await runCli(home, ['cp', 'dev:/workspace/big', join(home, 'down')], { env });
      assert.equal(down.code, 0, down.stderr);
    } finally {
      clearInterval(sampler);
    }
    const copy = await readFile(join(home, 'down', 'blob.bin'));
    assert.equal(createHash('sha256').update(copy).digest('hex'), digest);
    const growth = peak - before;
    process.stdout.write(
      `# forwarding server RSS +${Math.round(growth / mebibyte)} MiB while ${bigMiB} MiB went through it each way\n`,
    );
    // Holding the file whole would take all of it; streamed, the growth is the collector's slack.
    assert.ok(growth < (bigMiB * mebibyte * 3) / 4, `A's RSS grew by ${growth} bytes`);
    await aliceOnB.sandboxes.execAndWait('dev', 'rm -r /workspace/big');
  });

  test('host B killed: a 503 through A at once; found gone, its sandbox starts on C', async () => {
    // B's server is killed (its sandboxes keep running, its record stays until it falls silent).
    await endServerProcess(hostB.child, 'SIGKILL');
    const down = await exchange(`${apiServer.url}/v1/sandboxes/dev/files?path=/workspace/who`, {
      headers: bearer(aliceToken),
    });
    assert.equal(down.status, 503, down.body);
    const error = JSON.parse(down.body).error;
    assert.equal(error.code, 'host_unavailable');
    assert.match(error.message, /host-b is unavailable: it refused the connection/);
    assert.ok(error.hint);
    const shell = await upgrade(`${apiServer.url}/v1/sandboxes/dev/shell`, bearer(aliceToken));
    assert.equal(shell.status, 503);
    // Silent past the host timeout, B is found gone by a sweep: its sandbox is stopped with why.
    await waitUntil(
      async () => (await state.getSandbox('alice', 'dev'))?.status === 'stopped',
      20_000,
    );
    const stopped = await alice.sandboxes.get('dev');
    assert.match(stopped.reason ?? '', /host-b/);
    await assert.rejects(alice.sandboxes.exec('dev', 'true'), { statusCode: 409 });
    // Started again through A: placed on the live host C.
    const restarted = await alice.sandboxes.start('dev');
    assert.equal(restarted.status, 'running');
    assert.equal((await state.getSandbox('alice', 'dev'))?.host, 'host-c');
    const result = await alice.sandboxes.execAndWait('dev', 'echo on C');
    assert.equal(result.stdout, 'on C\n');
  });
});
