/**
 * Requests for a sandbox held by another host are forwarded there (issue 17, item 2): real
 * servers, each with its own MAGS_HOME and host id, share one state (one SQLite file, as two
 * processes may) as a cluster: A serves the API only, B and C are hosts. `mags new` through A
 * lands on B (a workspace parked warm on C lands on C); exec, files, `mags cp` of a tree, a
 * shell and a sandbox URL through A all reach the sandbox on B. Another owner gets a 404
 * through A (never a proxied probe); a forged loop header is refused (never forwarded twice);
 * B down is a clear 503 through A at once, and once found gone its sandbox starts on C.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { currentServerInstance } from '../src/config/server-instance.ts';
import { createMagsContext } from '../src/context/mags-context.ts';
import { Mags } from '../src/sdk/index.ts';
import { forwardedByHeader } from '../src/server/forwarding/host-forwarder.ts';
import { type RunningServer, startServer } from '../src/server/start-server.ts';
import { createToken } from '../src/server/tokens.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import { sandboxWebApp } from './helpers/sandbox-web-app.ts';
import { waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping forwarding tests: ${skip}\n`);

interface Host {
  id: string;
  testHome: TestHome;
  repository: StateRepository;
  server: RunningServer;
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
    // Its own connection to the one SQLite file, as a server process on this machine has.
    const repository = createSqliteStateRepository(stateFile);
    const server = await startServer({
      port: 0,
      context: createMagsContext({ ...process.env, MAGS_HOME: testHome.home }),
      repository,
      instance: { host: id, server: currentServerInstance().server },
      scheduling: { poolSize: 0 },
      cluster: { apiOnly, heartbeatMs: 250, hostTimeoutMs: 3_000 },
    });
    const host = { id, testHome, repository, server };
    hosts.push(host);
    return host;
  }

  before(async () => {
    shared = await createTestHome();
    stateFile = join(shared.home, 'shared-state.db');
    apiServer = await startHost('api-a', true);
    hostB = await startHost('host-b');
    hostC = await startHost('host-c');
    aliceToken = (await createToken(apiServer.repository, 'alice', 'test')).token;
    bobToken = (await createToken(apiServer.repository, 'bob', 'test')).token;
    alice = new Mags({ url: apiServer.server.url, token: aliceToken });
    aliceOnB = new Mags({ url: hostB.server.url, token: aliceToken });
  });

  after(async () => {
    for (const host of hosts.reverse()) {
      await host.server.close().catch(() => {});
      await host.testHome.cleanup();
    }
    await shared?.cleanup();
  });

  test('mags new through the API-only server lands on a host; a warm workspace on its host', async () => {
    const created = await runCli(apiServer.testHome.home, ['new', 'dev'], {
      env: { MAGS_URL: apiServer.server.url, MAGS_API_TOKEN: aliceToken },
    });
    assert.equal(created.code, 0, created.stderr);
    // Both hosts idle: the placement's tie goes by id.
    assert.equal((await apiServer.repository.getSandbox('alice', 'dev'))?.host, 'host-b');
    // A run on C parks its sandbox with the workspace `warm` there; C's heartbeat says so.
    const aliceOnC = new Mags({ url: hostC.server.url, token: aliceToken });
    const run = await aliceOnC.runAndWait('echo warm > /workspace/mark', { workspace: 'warm' });
    assert.equal(run.exitCode, 0);
    await waitUntil(
      async () =>
        (await apiServer.repository.listHosts()).some(
          (host) => host.id === 'host-c' && host.warmWorkspaces.includes('alice.warm'),
        ),
      10_000,
    );
    const placed = await alice.sandboxes.create({ name: 'beside-warm', workspace: 'warm' });
    assert.equal(placed.status, 'running');
    assert.equal((await apiServer.repository.getSandbox('alice', 'beside-warm'))?.host, 'host-c');
    const seen = await alice.sandboxes.execAndWait('beside-warm', 'cat /workspace/mark');
    assert.equal(seen.stdout, 'warm\n');
    await alice.sandboxes.delete('beside-warm');
  });

  test('exec through A runs on B; its output is read through A', async () => {
    const job = await alice.sandboxes.exec(
      'dev',
      'echo "$(hostname) ran it" > /workspace/who; cat /workspace/who',
    );
    assert.equal((await apiServer.repository.getJob('alice', job.id))?.host, 'host-b');
    await waitUntil(async () => (await alice.jobs.get(job.id)).status !== 'running', 30_000);
    assert.equal((await alice.jobs.get(job.id)).exitCode, 0);
    let stdout = '';
    await alice.jobs.logs(job.id, { follow: false, onStdout: (text) => (stdout += text) });
    assert.equal(stdout, 'dev ran it\n');
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
    const env = { MAGS_URL: apiServer.server.url, MAGS_API_TOKEN: aliceToken };
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

  test('a sandbox URL made and used through A reaches the app on B, HTTP and WebSocket', async () => {
    await alice.sandboxes.files.write('dev', '/tmp/app.js', sandboxWebApp);
    const started = await alice.sandboxes.exec('dev', [
      'sh',
      '-c',
      'setsid node /tmp/app.js 8080 > /tmp/app.log 2>&1 < /dev/null &',
    ]);
    await waitUntil(async () => (await alice.jobs.get(started.id)).status !== 'running', 30_000);
    const made = await alice.sandboxes.urls.create('dev', { port: 8080 });
    // Made by B for a request that came to A: the address is A's (the Host header stayed).
    assert.ok(made.url.startsWith(`${apiServer.server.url}/u/`), made.url);
    await waitUntil(
      async () =>
        (await exchange(`${made.url}hello`, { headers: bearer(aliceToken) })).status === 200,
      30_000,
    );
    const answer = await exchange(`${made.url}echo?q=1`, {
      method: 'POST',
      headers: bearer(aliceToken),
      body: Buffer.alloc(3 * 1024 * 1024, 1),
    });
    assert.equal(answer.status, 200, answer.body);
    const seen = JSON.parse(answer.body);
    assert.equal(seen.url, '/echo?q=1');
    assert.equal(seen.received, 3 * 1024 * 1024);
    assert.equal(seen.headers.authorization, undefined, "the owner's token is never the app's");
    const big = await exchange(`${made.url}bytes/${20 * 1024 * 1024}`, {
      headers: bearer(aliceToken),
    });
    assert.equal(big.body.length, 20 * 1024 * 1024);
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
    // Bob's token does not open alice's private URL on A: refused there, not forwarded.
    const refused = await exchange(`${made.url}hello`, { headers: bearer(bobToken) });
    assert.ok([403, 404].includes(refused.status), `${refused.status} ${refused.body}`);
  });

  test("another owner's sandbox is a 404 through A, never forwarded", async () => {
    const bob = new Mags({ url: apiServer.server.url, token: bobToken });
    await assert.rejects(bob.sandboxes.exec('dev', 'true'), { statusCode: 404 });
    await assert.rejects(bob.sandboxes.files.read('dev', '/workspace/who'), { statusCode: 404 });
    await assert.rejects(bob.sandboxes.stop('dev'), { statusCode: 404 });
    const shell = await upgrade(`${apiServer.server.url}/v1/sandboxes/dev/shell`, bearer(bobToken));
    assert.equal(shell.status, 404);
    assert.equal((await apiServer.repository.getSandbox('alice', 'dev'))?.status, 'running');
  });

  test('a forged forwarded-by header is refused, never forwarded a second time', async () => {
    const path = '/v1/sandboxes/dev/files?path=/workspace/who';
    const forged = await exchange(`${apiServer.server.url}${path}`, {
      headers: { ...bearer(aliceToken), [forwardedByHeader]: 'host-z' },
    });
    assert.equal(forged.status, 502, forged.body);
    const error = JSON.parse(forged.body).error;
    assert.equal(error.code, 'forward_loop');
    for (const name of ['host-z', 'api-a', 'host-b']) assert.match(error.message, new RegExp(name));
    // The holding host answers a forwarded request itself.
    const atB = await exchange(`${hostB.server.url}${path}`, {
      headers: { ...bearer(aliceToken), [forwardedByHeader]: 'api-a' },
    });
    assert.equal(atB.status, 200);
    assert.equal(atB.body, 'dev ran it\n');
    const shell = await upgrade(`${apiServer.server.url}/v1/sandboxes/dev/shell`, {
      ...bearer(aliceToken),
      [forwardedByHeader]: 'host-z',
    });
    assert.equal(shell.status, 502);
  });

  test('host B down: a 503 through A at once; found gone, its sandbox starts on C', async () => {
    // B's server goes (its sandboxes keep running, its record stays until it falls silent).
    await hostB.server.detach();
    const down = await exchange(
      `${apiServer.server.url}/v1/sandboxes/dev/files?path=/workspace/who`,
      {
        headers: bearer(aliceToken),
      },
    );
    assert.equal(down.status, 503, down.body);
    const error = JSON.parse(down.body).error;
    assert.equal(error.code, 'host_unavailable');
    assert.match(error.message, /host-b is unavailable: it refused the connection/);
    assert.ok(error.hint);
    const shell = await upgrade(
      `${apiServer.server.url}/v1/sandboxes/dev/shell`,
      bearer(aliceToken),
    );
    assert.equal(shell.status, 503);
    // Silent past the host timeout, B is found gone by a sweep: its sandbox is stopped with why.
    await waitUntil(
      async () => (await apiServer.repository.getSandbox('alice', 'dev'))?.status === 'stopped',
      20_000,
    );
    const stopped = await alice.sandboxes.get('dev');
    assert.match(stopped.reason ?? '', /host-b/);
    await assert.rejects(alice.sandboxes.exec('dev', 'true'), { statusCode: 409 });
    // Started again through A: placed on the live host C.
    const restarted = await alice.sandboxes.start('dev');
    assert.equal(restarted.status, 'running');
    assert.equal((await apiServer.repository.getSandbox('alice', 'dev'))?.host, 'host-c');
    const result = await alice.sandboxes.execAndWait('dev', 'echo on C');
    assert.equal(result.stdout, 'on C\n');
  });
});
