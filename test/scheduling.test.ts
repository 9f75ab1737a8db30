/**
 * The pool, the warm cache and sleep, through a real server with real sandboxes: what is reused
 * and what never is, jobs that ruin their sandbox, a pool that cannot fill, eviction under
 * count and memory limits, sleep and wake, and a killed server's sandboxes on restart.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatPoolStatus } from '../src/cli/commands/pool.ts';
import { Mags } from '../src/sdk/index.ts';
import type { SchedulingOptions } from '../src/server/start-server.ts';
import { sandboxProcesses, startServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason } from './helpers/test-home.ts';
import { hostPool, startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping scheduling tests: ${skip}\n`);

/** Reads /dev/shm/marker: /dev/shm is a tmpfs of the sandbox's own, not in the workspace. */
const readMarker = 'cat /dev/shm/marker 2>/dev/null || echo none';

describe('pool, warm cache and sleep', { skip }, () => {
  const servers: TestServer[] = [];
  async function serve(scheduling: SchedulingOptions): Promise<{ server: TestServer; mags: Mags }> {
    const server = await startTestServer({ scheduling });
    servers.push(server);
    return { server, mags: (await server.client('alice', { admin: true })).mags };
  }
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  test('a warm hit reuses the workspace’s own sandbox; other workspaces and owners never get it', async () => {
    const { server, mags } = await serve({ poolSize: 1 });
    const bob = (await server.client('bob')).mags;
    const first = await mags.runAndWait('echo secret > /dev/shm/marker; echo mine > f', {
      workspace: 'app',
    });
    assert.equal(first.exitCode, 0, first.stderr);
    assert.equal((await mags.runAndWait(readMarker, { workspace: 'app' })).stdout, 'secret\n');
    assert.equal((await mags.runAndWait(readMarker, { workspace: 'other' })).stdout, 'none\n');
    assert.equal((await mags.runAndWait(readMarker)).stdout, 'none\n');
    const bobs = await bob.runAndWait(`${readMarker}; cat f 2>/dev/null || echo no-file`, {
      workspace: 'app',
    });
    assert.equal(bobs.stdout, 'none\nno-file\n');
    // Other terms (here: a network) are a miss, and the old sandbox is not kept beside the new.
    const changed = await mags.runAndWait(`${readMarker}; cat f`, {
      workspace: 'app',
      network: true,
    });
    assert.equal(changed.stdout, 'none\nmine\n');
    const status = await hostPool(mags);
    assert.equal(status.counters.warmHits, 1);
    assert.equal(status.counters.warmMisses.changed, 1);
    assert.ok((status.counters.warmMisses.none ?? 0) >= 3);
  });

  test('a run that leaves processes, kills what it can, or fills /tmp never taints another run', async () => {
    const { server, mags } = await serve({ poolSize: 0 });
    // A background process: the sandbox is not parked (the next run must not meet it).
    const left = await mags.runAndWait(
      'echo m > /dev/shm/marker; sleep 1000 > /dev/null 2>&1 & echo started',
      { workspace: 'bg' },
    );
    assert.equal(left.stdout, 'started\n');
    assert.equal((await mags.runAndWait(readMarker, { workspace: 'bg' })).stdout, 'none\n');
    assert.equal((await hostPool(mags)).counters.notParked.processes_left, 1);

    // Killing everything it can (PID 1 ignores it): the sandbox survives and is reused.
    const killer = await mags.runAndWait('kill -9 1; kill -9 -1; echo after', {
      workspace: 'killer',
    });
    assert.equal(killer.stdout, 'after\n');
    assert.equal((await mags.runAndWait('echo again', { workspace: 'killer' })).stdout, 'again\n');

    // A full /tmp is part of the workspace: its own next run sees it, nobody else does.
    const filled = await mags.runAndWait('head -c 64000000 /dev/zero > /tmp/big && echo full', {
      workspace: 'filler',
    });
    assert.equal(filled.stdout, 'full\n');
    const again = await mags.runAndWait('stat -c %s /tmp/big', { workspace: 'filler' });
    assert.equal(again.stdout, '64000000\n');
    const other = await mags.runAndWait('ls /tmp/big 2>/dev/null || echo absent', {
      workspace: 'clean',
    });
    assert.equal(other.stdout, 'absent\n');

    // The guest agent killed from outside while parked: a miss, and the next run still works.
    await mags.runAndWait('echo victim > /workspace/victim-marker', { workspace: 'victim' });
    const agent = await agentWithFile(server.testHome.home, '/workspace/victim-marker');
    assert.ok(agent, 'the parked sandbox of "victim" has an agent');
    process.kill(agent, 'SIGKILL');
    await sleep(100);
    const revived = await mags.runAndWait('cat victim-marker', { workspace: 'victim' });
    assert.equal(revived.stdout, 'victim\n', revived.stderr);
    assert.equal((await hostPool(mags)).counters.warmMisses.died, 1);
  });

  test('the pool hands out fresh sandboxes; one that cannot fill says why and runs still start', async () => {
    const { mags } = await serve({ poolSize: 2 });
    await waitUntil(async () => (await hostPool(mags)).pool.idle === 2, 10_000);
    const run = await mags.runAndWait(`${readMarker}; hostname`, { workspace: 'pooled' });
    assert.equal(run.stdout, 'none\nmags\n');
    const status = await hostPool(mags);
    assert.equal(status.counters.poolHits, 1);
    assert.equal(status.pool.error, null);

    const broken = (await serve({ poolSize: 2, poolImage: 'missing-image' })).mags;
    await waitUntil(async () => (await hostPool(broken)).pool.error !== null, 10_000);
    const failing = await hostPool(broken);
    assert.match(failing.pool.error ?? '', /missing-image/);
    assert.match(formatPoolStatus(await broken.pool()), /pool error +.*missing-image/);
    assert.equal(failing.pool.idle, 0);
    const fallback = await broken.runAndWait('echo fell back');
    assert.equal(fallback.stdout, 'fell back\n');
    const after = await hostPool(broken);
    assert.equal(after.counters.poolMisses.image, 1);
    assert.ok(after.counters.poolRefillFailures >= 1);
  });

  test('parked sandboxes are evicted oldest first; delete and base runs take the workspace back', async () => {
    const { mags } = await serve({ poolSize: 0, parkMaxCount: 2 });
    for (const name of ['a', 'b', 'c']) {
      await mags.runAndWait('echo kept > /dev/shm/marker', { workspace: name });
    }
    const status = await hostPool(mags);
    assert.equal(status.warm.parked, 2);
    assert.equal(status.counters.warmEvictions.count, 1);
    assert.equal((await mags.runAndWait(readMarker, { workspace: 'a' })).stdout, 'none\n');
    assert.equal((await mags.runAndWait(readMarker, { workspace: 'c' })).stdout, 'kept\n');
    // Parked now: a (parked after its miss, evicting b) and c. A reader on top of a parked
    // workspace, and deleting one: the parked sandbox lets go of it.
    assert.equal((await hostPool(mags)).warm.parked, 2);
    const reader = await mags.runAndWait('echo read', { base: 'c' });
    assert.equal(reader.stdout, 'read\n');
    assert.equal((await hostPool(mags)).warm.parked, 1);
    await mags.workspaces.delete('a');
    assert.equal((await hostPool(mags)).warm.parked, 0);
  });

  test('a sync from another host invalidates the parked sandbox, so the pull it asks for works', async () => {
    const storeHome = await createTestHome();
    const env = { MAGS_STORE_DIR: join(storeHome.home, 'store'), MAGS_S3_BUCKET: '' };
    const server = await startTestServer({ scheduling: { poolSize: 0 } }, env);
    servers.push(server);
    const { mags } = await server.client('alice', { admin: true });
    const first = await mags.runAndWait('echo 1 > version', { workspace: 'shared', persist: true });
    assert.equal(first.exitCode, 0, first.stderr);
    assert.equal((await hostPool(mags)).warm.parked, 1);
    // Another host takes the workspace (stored as alice.shared) and commits version 2.
    const other = await createTestHome();
    try {
      const otherEnv = { ...env, XDG_CONFIG_HOME: join(other.home, 'config') };
      const moved = await runCli(
        other.home,
        ['run', '-p', '-w', 'alice.shared', 'echo 2 > version'],
        {
          env: otherEnv,
        },
      );
      assert.equal(moved.code, 0, moved.stderr);
    } finally {
      await other.cleanup();
    }
    const stale = await mags.runAndWait('cat version', { workspace: 'shared', persist: true });
    assert.equal(stale.job.status, 'failed');
    assert.match(stale.stderr, /newer than this host's copy/);
    const status = await hostPool(mags);
    assert.equal(status.warm.parked, 0);
    assert.equal(status.counters.warmEvictions.invalidated, 1);
    // The lock is free: the pull the error asks for works on this host, and so does the run.
    const pulled = await runCli(server.testHome.home, ['workspace', 'pull', 'alice.shared'], {
      env: { ...env, XDG_CONFIG_HOME: join(server.testHome.home, 'config') },
    });
    assert.equal(pulled.code, 0, pulled.stderr);
    const fresh = await mags.runAndWait('cat version', { workspace: 'shared', persist: true });
    assert.equal(fresh.stdout, '2\n');
    await storeHome.cleanup();
  });

  test('200 parked sandboxes and a stream of runs stay within the memory limit', async () => {
    const limit = 48 * 1024 * 1024;
    const { server, mags } = await serve({
      poolSize: 0,
      parkMaxCount: 1000,
      parkMaxMemoryBytes: limit,
    });
    const names = Array.from({ length: 200 }, (_, index) => `many-${index}`);
    const stream = [...names, ...names.slice(150), ...names.slice(0, 20)];
    for (let index = 0; index < stream.length; index += 8) {
      const batch = stream.slice(index, index + 8);
      const results = await Promise.all(
        // Small disks: 200 workspaces of the default size would pass the owner's disk quota.
        batch.map((workspace) =>
          mags.runAndWait('echo ok', { workspace, limits: { diskMiB: 64 } }),
        ),
      );
      for (const result of results) assert.equal(result.stdout, 'ok\n');
      const { warm } = await hostPool(mags);
      assert.ok(warm.memoryBytes <= limit, `${warm.memoryBytes} > ${limit}`);
    }
    const status = await hostPool(mags);
    assert.ok((status.counters.warmEvictions.memory ?? 0) > 0, 'the memory limit was binding');
    assert.ok(status.warm.parked >= 10, `${status.warm.parked} parked`);
    // What the kernel charges the parked sandboxes now, not what was recorded at parking.
    const charged = await chargedMemory(server.testHome.home);
    assert.equal(charged.sandboxes, status.warm.parked);
    assert.ok(charged.bytes <= limit, `${charged.bytes} bytes charged > ${limit}`);
  });

  test('an idle sandbox sleeps (frozen) and any use wakes it; --no-sleep keeps one awake', async () => {
    const { server, mags } = await serve({ poolSize: 0, sleepAfterMs: 400 });
    await mags.sandboxes.create({ name: 'napper' });
    await mags.sandboxes.create({ name: 'owl', sleep: false });
    const ticker = '(while true; do date +%s%N > /tmp/tick; sleep 0.02; done) > /dev/null 2>&1 &';
    await mags.sandboxes.execAndWait('napper', ticker);
    await waitUntil(async () => (await mags.sandboxes.get('napper')).status === 'sleeping', 10_000);
    // Frozen: the ticker stops (read from the host, which does not wake it).
    const tickFile = join(
      server.testHome.home,
      'workspaces',
      'alice.napper',
      'layer', // the workspace's disk, mounted
      'upper',
      'tmp',
      'tick',
    );
    const frozen = await readFile(tickFile, 'utf8');
    await sleep(300);
    assert.equal(await readFile(tickFile, 'utf8'), frozen);
    // Any use wakes it, transparently.
    const woken = await mags.sandboxes.execAndWait('napper', 'echo awake');
    assert.equal(woken.stdout, 'awake\n');
    assert.equal((await mags.sandboxes.get('napper')).status, 'running');
    await sleep(100);
    assert.notEqual(await readFile(tickFile, 'utf8'), frozen);
    assert.equal((await mags.sandboxes.get('owl')).status, 'running');
    assert.equal((await mags.sandboxes.get('owl')).sleep, false);
    // mags set: sleeping on for the owl, off (and awake at once) for the napper.
    await mags.sandboxes.update('owl', { sleep: true });
    await waitUntil(async () => (await mags.sandboxes.get('owl')).status === 'sleeping', 10_000);
    await waitUntil(async () => (await mags.sandboxes.get('napper')).status === 'sleeping', 10_000);
    const set = await mags.sandboxes.update('napper', { sleep: false });
    assert.equal(set.status, 'running');
    const status = await hostPool(mags);
    assert.ok(status.counters.sleeps >= 3);
    assert.ok(status.counters.wakes >= 2);
    assert.equal(status.sleeping, 1);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^mags_sandboxes_sleeping 1$/m);
    assert.match(metrics, /^mags_sandbox_wakes_total [1-9]/m);
    await mags.sandboxes.delete('owl'); // a sleeping sandbox stops like any other
    await mags.sandboxes.delete('napper');
  });

  test('/metrics speaks Prometheus without a token', async () => {
    const { server, mags } = await serve({ poolSize: 1 });
    await mags.runAndWait('true', { workspace: 'm' });
    await mags.runAndWait('true', { workspace: 'm' });
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const text = await response.text();
    assert.match(text, /^# TYPE mags_pool_hits_total counter$/m);
    assert.match(text, /^mags_warm_cache_hits_total 1$/m);
    assert.match(text, /^mags_sandbox_start_seconds_count\{path="warm"\} 1$/m);
    assert.match(text, /^mags_pool_idle [01]$/m);
  });
});

describe('a killed server’s pooled, parked and sleeping sandboxes', { skip }, () => {
  let server: { child: ChildProcess; url: string } | undefined;
  let cleanup: () => Promise<void> = async () => {};
  after(async () => {
    server?.child.kill('SIGKILL');
    await cleanup();
  });

  test('on restart: pooled ones are gone and cleaned up, the parked one is reused, the sleeping one still sleeps', async () => {
    const testHome = await createTestHome();
    cleanup = testHome.cleanup;
    const { home } = testHome;
    const environment = { ...process.env, MAGS_HOME: home };
    const flags = ['--pool-size', '2', '--sleep-after', '1'];
    server = await startServerProcess(environment, flags);
    const created = await runCli(home, ['token', 'create', '--owner', 'alice', '--admin']);
    const mags = new Mags({ url: server.url, token: created.stdout.toString().trim() });
    await mags.runAndWait('echo parked > /dev/shm/marker', { workspace: 'parked' });
    await mags.sandboxes.create({ name: 'sleeper' });
    await waitUntil(
      async () => (await mags.sandboxes.get('sleeper')).status === 'sleeping',
      10_000,
    );
    await waitUntil(async () => (await hostPool(mags)).pool.idle === 2, 10_000);
    const before = await readdir(join(home, 'run'));
    assert.equal(before.length, 4, `pool 2 + parked + sleeper: ${before}`);
    // Each pooled sandbox is a launcher and its clone (not yet the agent); the others a launcher.
    const processes = await sandboxProcesses(home);
    assert.equal(processes.length, 2 * 2 + 2, processes.join('\n'));

    server.child.kill('SIGKILL');
    await new Promise((resolve) => server?.child.once('exit', resolve));
    // Pooled sandboxes end with their server (their attach channel closes); the others live on.
    await waitUntil(async () => (await sandboxProcesses(home)).length === 2, 5000);

    server = await startServerProcess(environment, ['--pool-size', '0', '--sleep-after', '1']);
    const left = await readdir(join(home, 'run'));
    assert.equal(left.length, 2, `parked + sleeper: ${left}`);
    for (const id of before.filter((id) => !left.includes(id))) {
      for (const cgroup of ['memory', 'pids', 'freezer', 'cpu'].map(
        (c) => `/sys/fs/cgroup/${c}/mags/${id}`,
      )) {
        assert.equal(existsSync(cgroup), false, `${cgroup} left behind`);
      }
      assert.equal(existsSync(`/sys/fs/cgroup/mags/${id}`), false);
    }
    const after = new Mags({ url: server.url, token: created.stdout.toString().trim() });
    assert.equal((await after.sandboxes.get('sleeper')).status, 'sleeping');
    assert.equal(
      (await after.runAndWait(readMarker, { workspace: 'parked' })).stdout,
      'parked\n',
      'the parked sandbox was reused',
    );
    assert.equal((await after.sandboxes.execAndWait('sleeper', 'echo awake')).stdout, 'awake\n');
  });
});

/** The host pid of the guest agent whose sandbox has `path`, read through /proc/PID/root. */
async function agentWithFile(home: string, path: string): Promise<number | undefined> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!command.includes('mags-agent')) continue;
    const launcher = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''))
      .split(') ')[1]
      ?.split(' ')[1];
    const launcherCommand = await readFile(`/proc/${launcher}/cmdline`, 'utf8').catch(() => '');
    if (launcherCommand.includes(home) && existsSync(`/proc/${pid}/root${path}`))
      return Number(pid);
  }
  return undefined;
}

/** Memory the kernel charges to this home's sandboxes (cgroup v1 or v2). */
async function chargedMemory(home: string): Promise<{ sandboxes: number; bytes: number }> {
  const ids = await readdir(join(home, 'run'));
  let bytes = 0;
  for (const id of ids) {
    const v1 = await readFile(
      `/sys/fs/cgroup/memory/mags/${id}/memory.usage_in_bytes`,
      'utf8',
    ).catch(() => undefined);
    const v2 = await readFile(`/sys/fs/cgroup/mags/${id}/memory.current`, 'utf8').catch(() => '0');
    bytes += Number(v1 ?? v2);
  }
  return { sandboxes: ids.length, bytes };
}
