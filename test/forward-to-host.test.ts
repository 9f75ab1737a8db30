/**
 * Requests for a sandbox held by another host are forwarded there (issue 17, item 2): two real
 * servers, each with its own MAGS_HOME and host id, share one state; a sandbox lives on host B,
 * and exec, files, `mags cp` of a tree, a shell and a sandbox URL through server A all reach it.
 * Another owner gets a 404 through A (never a proxied probe); a forged loop header is refused
 * (never forwarded twice); host B silent, gone or down is a clear 503 through A.
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
import type { HostRecord, StateRepository } from '../src/state/state-repository.ts';
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
  record: HostRecord;
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
  let stateFile: string;
  let heartbeat: NodeJS.Timeout | undefined;
  let alice: Mags;
  let aliceOnB: Mags;
  let aliceToken: string;
  let bobToken: string;
  let hostA: Host;
  let hostB: Host;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  async function startHost(id: string): Promise<Host> {
    const testHome = await createTestHome();
    // Two connections to one SQLite file, as two server processes on one machine have.
    const repository = createSqliteStateRepository(stateFile);
    const instance = { host: id, server: currentServerInstance().server };
    const server = await startServer({
      port: 0,
      context: createMagsContext({ ...process.env, MAGS_HOME: testHome.home }),
      repository,
      instance,
      scheduling: { poolSize: 0 },
    });
    const now = new Date().toISOString();
    const record: HostRecord = {
      id,
      server: instance.server,
      address: server.url,
      runtimes: ['namespace'],
      maxJobs: 32,
      runningJobs: 0,
      warmWorkspaces: [],
      startedAt: now,
      heartbeatAt: now,
      goneAt: null,
      goneReason: null,
    };
    await repository.registerHost(record);
    const host = { id, testHome, repository, server, record };
    hosts.push(host);
    return host;
  }

  const beat = (host: Host, heartbeatAt = new Date().toISOString()) =>
    host.repository.heartbeatHost(host.id, host.record.server, {
      heartbeatAt,
      runningJobs: 0,
      warmWorkspaces: [],
    });

  before(async () => {
    const shared = await createTestHome();
    stateFile = join(shared.home, 'shared-state.db');
    hostA = await startHost('host-a');
    hostB = await startHost('host-b');
    hostA.testHome.cleanup = ((first) => async () => {
      await first();
      await shared.cleanup();
    })(hostA.testHome.cleanup);
    // Until S1's servers beat themselves: the test keeps both hosts fresh.
    heartbeat = setInterval(() => {
      for (const host of [hostA, hostB]) void beat(host).catch(() => {});
    }, 2_000);
    aliceToken = (await createToken(hostA.repository, 'alice', 'test')).token;
    bobToken = (await createToken(hostA.repository, 'bob', 'test')).token;
    alice = new Mags({ url: hostA.server.url, token: aliceToken });
    aliceOnB = new Mags({ url: hostB.server.url, token: aliceToken });
    // Made on B: the sandbox is B's; every request below goes to A.
    await aliceOnB.sandboxes.create({ name: 'dev' });
    assert.equal((await hostA.repository.getSandbox('alice', 'dev'))?.host, 'host-b');
  });

  after(async () => {
    clearInterval(heartbeat);
    for (const host of hosts.reverse()) {
      await host.server.close().catch(() => {});
      await host.testHome.cleanup();
    }
  });

  test('exec through A runs on B; its output is read through A', async () => {
    const job = await alice.sandboxes.exec(
      'dev',
      'echo "$(hostname) ran it" > /workspace/who; cat /workspace/who',
    );
    assert.equal((await hostA.repository.getJob('alice', job.id))?.host, 'host-b');
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
    const home = hostA.testHome.home;
    const tree = join(home, 'tree');
    await mkdir(join(tree, 'nested'), { recursive: true });
    await writeFile(join(tree, 'top.txt'), 'top\n');
    await writeFile(join(tree, 'nested', 'leaf.txt'), 'leaf\n');
    await symlink('nested/leaf.txt', join(tree, 'link'));
    const env = { MAGS_URL: hostA.server.url, MAGS_API_TOKEN: aliceToken };
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
    assert.ok(made.url.startsWith(`${hostA.server.url}/u/`), made.url);
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
    const bob = new Mags({ url: hostA.server.url, token: bobToken });
    await assert.rejects(bob.sandboxes.exec('dev', 'true'), { statusCode: 404 });
    await assert.rejects(bob.sandboxes.files.read('dev', '/workspace/who'), { statusCode: 404 });
    await assert.rejects(bob.sandboxes.stop('dev'), { statusCode: 404 });
    const shell = await upgrade(`${hostA.server.url}/v1/sandboxes/dev/shell`, bearer(bobToken));
    assert.equal(shell.status, 404);
    assert.equal((await hostA.repository.getSandbox('alice', 'dev'))?.status, 'running');
  });

  test('a forged forwarded-by header is refused, never forwarded a second time', async () => {
    const path = '/v1/sandboxes/dev/files?path=/workspace/who';
    const forged = await exchange(`${hostA.server.url}${path}`, {
      headers: { ...bearer(aliceToken), [forwardedByHeader]: 'host-z' },
    });
    assert.equal(forged.status, 502, forged.body);
    const error = JSON.parse(forged.body).error;
    assert.equal(error.code, 'forward_loop');
    for (const name of ['host-z', 'host-a', 'host-b'])
      assert.match(error.message, new RegExp(name));
    // The holding host answers a forwarded request itself.
    const atB = await exchange(`${hostB.server.url}${path}`, {
      headers: { ...bearer(aliceToken), [forwardedByHeader]: 'host-a' },
    });
    assert.equal(atB.status, 200);
    assert.equal(atB.body, 'dev ran it\n');
    const shell = await upgrade(`${hostA.server.url}/v1/sandboxes/dev/shell`, {
      ...bearer(aliceToken),
      [forwardedByHeader]: 'host-z',
    });
    assert.equal(shell.status, 502);
  });

  test('host B silent, then down, then found gone: a clear answer through A, never a hang', async () => {
    // Silent: its last heartbeat is a minute old.
    clearInterval(heartbeat);
    await beat(hostB, new Date(Date.now() - 60_000).toISOString());
    const silent = await exchange(`${hostA.server.url}/v1/sandboxes/dev/exec`, {
      method: 'POST',
      headers: { ...bearer(aliceToken), 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ command: 'true' })),
    });
    assert.equal(silent.status, 503, silent.body);
    const silentError = JSON.parse(silent.body).error;
    assert.equal(silentError.code, 'host_unavailable');
    assert.match(silentError.message, /host-b is unavailable: no heartbeat for 6\d s/);
    assert.ok(silentError.hint);
    // Down: beating (in the state) but its server no longer listens.
    await beat(hostB);
    await hostB.server.detach();
    const down = await exchange(`${hostA.server.url}/v1/sandboxes/dev/files?path=/workspace/who`, {
      headers: bearer(aliceToken),
    });
    assert.equal(down.status, 503, down.body);
    assert.match(
      JSON.parse(down.body).error.message,
      /host-b is unavailable: it refused the connection/,
    );
    const shell = await upgrade(`${hostA.server.url}/v1/sandboxes/dev/shell`, bearer(aliceToken));
    assert.equal(shell.status, 503);
    // Found gone (S1's sweep): its sandboxes are stopped, so A answers from the state itself.
    const last = (await hostA.repository.listHosts()).find((host) => host.id === 'host-b');
    assert.ok(last);
    const taken = await hostA.repository.markHostGone(
      'host-b',
      { server: last.server, heartbeatAt: last.heartbeatAt },
      new Date().toISOString(),
      'no heartbeat for 30 s',
    );
    assert.equal(taken?.sandboxes.length, 1);
    await assert.rejects(alice.sandboxes.exec('dev', 'true'), { statusCode: 409 });
    // Started again, here on A (its host is gone): the record now names A.
    const restarted = await alice.sandboxes.start('dev');
    assert.equal(restarted.status, 'running');
    assert.equal((await hostA.repository.getSandbox('alice', 'dev'))?.host, 'host-a');
    const result = await alice.sandboxes.execAndWait('dev', 'echo on A');
    assert.equal(result.stdout, 'on A\n');
  });
});
