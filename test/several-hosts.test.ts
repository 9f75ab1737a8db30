/**
 * Several servers and hosts on one state (issue 17): real `mags server` processes of the built
 * CLI sharing one PostgreSQL database and one S3 bucket (Ceph RGW). An API-only server X and two
 * hosts, A and B, each with its own MAGS_HOME and --host-id (host A's API is the second API
 * server). A client on X runs a job that lands on host B and follows its output through X; host
 * B is SIGKILLed mid-job and the job ends failed with the reason on both API servers (and
 * `mags logs -f` on X ends); a new run of that persistent workspace restores on host A what B
 * synced; a second run of a workspace lands where the first one parked (warm affinity).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Mags } from '../src/sdk/mags.ts';
import { createToken } from '../src/server/tokens.ts';
import { createPostgresStateRepository } from '../src/state/postgres/postgres-state-repository.ts';
import { createTestPostgresDatabase } from '../src/state/postgres/postgres-test-database.ts';
import { s3StoreEnvironment } from './helpers/s3-store-environment.ts';
import { startServerProcess, stopServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const sandboxSkip = sandboxSkipReason();
const postgres = sandboxSkip ? { skip: sandboxSkip } : await createTestPostgresDatabase();
const s3 = 'skip' in postgres ? postgres : await s3StoreEnvironment();
const skip = 'skip' in postgres ? postgres.skip : 'skip' in s3 ? s3.skip : undefined;
if (skip) process.stdout.write(`# skipping the several-hosts tests: ${skip}\n`);

interface HostView {
  id: string;
  state: string;
  warmWorkspaces: number;
  goneReason: string | null;
}

describe('several servers and hosts on one PostgreSQL and one S3', { skip }, () => {
  const homes: TestHome[] = [];
  const children: ChildProcess[] = [];
  let token = '';
  let api: { url: string; mags: Mags };
  let hostA: { url: string; child: ChildProcess; mags: Mags; home: string };
  let hostB: { url: string; child: ChildProcess; mags: Mags; home: string };
  let environment: NodeJS.ProcessEnv = {};
  const stateUrl = 'url' in postgres ? postgres.url : '';

  async function server(hostId: string, flags: string[] = []) {
    const home = await createTestHome();
    homes.push(home);
    const started = await startServerProcess({ ...environment, MAGS_HOME: home.home }, [
      '--state',
      stateUrl,
      '--host-id',
      hostId,
      '--heartbeat',
      '0.3',
      '--host-timeout',
      '2',
      '--pool-size',
      '0',
      ...flags,
    ]);
    children.push(started.child);
    return { ...started, home: home.home, mags: new Mags({ url: started.url, token }) };
  }

  async function listHosts(url: string): Promise<HostView[]> {
    const response = await fetch(`${url}/v1/hosts`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { hosts: HostView[] }).hosts;
  }

  before(async () => {
    environment = { ...process.env, ...(s3 as Record<string, string>) };
    const repository = await createPostgresStateRepository(stateUrl);
    token = (await createToken(repository, 'alice', 'several-hosts', { admin: true })).token;
    await repository.close();
    // B first, alone with the API server: the first run has nowhere else to go.
    hostB = await server('host-b');
    const x = await server('api-x', ['--api-only']);
    api = { url: x.url, mags: x.mags };
  });

  after(async () => {
    for (const child of children) await stopServerProcess(child, { stopSandboxes: true });
    for (const home of homes) await home.cleanup();
    if ('drop' in postgres) await postgres.drop();
  });

  test('a run through the API-only server lands on a host, parks there, and a second run of its workspace goes back to it', async () => {
    const first = await api.mags.runAndWait('echo from-b > /workspace/note; hostname', {
      workspace: 'shared',
      persist: true,
    });
    assert.equal(first.job.status, 'succeeded', first.stderr);
    assert.equal(first.job.host, 'host-b');
    // Host A joins only now: both are idle, and A would win the tie by id, but B has it warm.
    hostA = await server('host-a');
    await waitUntil(async () => {
      const seen = await listHosts(api.url);
      const b = seen.find((host) => host.id === 'host-b');
      const a = seen.find((host) => host.id === 'host-a');
      return a?.state === 'live' && b?.state === 'live' && b.warmWorkspaces === 1;
    }, 10_000);
    const idle = await api.mags.runAndWait('true');
    assert.equal(idle.job.host, 'host-a', 'an idle tie goes to host-a by id');
    const second = await api.mags.runAndWait('cat /workspace/note', {
      workspace: 'shared',
      persist: true,
    });
    assert.equal(second.job.host, 'host-b', 'warm affinity: where the first run parked');
    assert.equal(second.stdout, 'from-b\n');
  });

  test('a warm copy behind the store is passed over: after another host wrote the workspace, its next run goes there, not back to the stale copy', async () => {
    // Nothing has `stale` warm and both hosts are idle: the tie goes to host-a by id.
    const first = await api.mags.runAndWait('echo one > /workspace/f', {
      workspace: 'stale',
      persist: true,
    });
    assert.equal(first.job.status, 'succeeded', first.stderr);
    assert.equal(first.job.host, 'host-a');
    // Host B writes it (a run with uploaded files runs where they were uploaded): it restores
    // version 1, pushes version 2 and parks it. A's parked copy is now behind the store.
    const second = await hostB.mags.runAndWait('cat /workspace/f; echo two > /workspace/f', {
      workspace: 'stale',
      persist: true,
      files: [{ name: 'placed-on-b', data: 'b\n' }],
    });
    assert.equal(second.job.status, 'succeeded', second.stderr);
    assert.equal(second.job.host, 'host-b');
    assert.equal(second.stdout, 'one\n');
    await waitUntil(async () => {
      const seen = await listHosts(api.url);
      const a = seen.find((host) => host.id === 'host-a');
      const b = seen.find((host) => host.id === 'host-b');
      return a?.warmWorkspaces === 1 && b?.warmWorkspaces === 2;
    }, 10_000);
    // Both have it parked, equally idle: by id it would go to A, which would refuse it
    // (sync_conflict). Only B's copy is at the store's latest.
    const third = await api.mags.runAndWait('cat /workspace/f', {
      workspace: 'stale',
      persist: true,
    });
    assert.equal(third.job.status, 'succeeded', third.stderr);
    assert.equal(third.job.host, 'host-b');
    assert.equal(third.stdout, 'two\n');
  });

  test('host B killed mid-job: the job fails with the reason on both API servers, logs -f ends, and the workspace restores on host A', async () => {
    // Warm on B again (the previous run parked it there, and B's heartbeat says so): this run
    // goes to B.
    await waitUntil(async () => {
      const b = (await listHosts(api.url)).find((host) => host.id === 'host-b');
      return (b?.warmWorkspaces ?? 0) >= 1;
    }, 10_000);
    const job = await api.mags.run(
      ['sh', '-c', 'echo started; cat /workspace/note; echo more >> /workspace/note; sleep 120'],
      { workspace: 'shared', persist: true },
    );
    assert.equal(job.host, 'host-b');
    const follower = runCli(hostA.home, ['logs', '-f', job.id], {
      env: { MAGS_URL: api.url, MAGS_API_TOKEN: token },
    });
    let seen = '';
    const streamed = new AbortController();
    await api.mags.jobs
      .logs(job.id, {
        onStdout: (text) => {
          seen += text;
          if (seen.includes('from-b')) streamed.abort();
        },
        signal: streamed.signal,
      })
      .catch(() => {});
    assert.match(seen, /started\nfrom-b\n/, 'streamed through the API-only server');

    hostB.child.kill('SIGKILL');
    const ended = await follower;
    assert.match(ended.stdout.toString(), /started\nfrom-b\n/);
    assert.match(ended.stderr, /host host-b stopped heartbeating at .* \(timeout 2 s\)/);
    // It ended (that is the point: it would follow forever otherwise), as `logs` does: code 0.
    assert.equal(ended.code, 0, ended.stderr);
    for (const mags of [api.mags, hostA.mags]) {
      const failed = await mags.jobs.get(job.id);
      assert.equal(failed.status, 'failed');
      assert.match(failed.reason ?? '', /^host host-b stopped heartbeating/);
      assert.match(
        failed.message ?? '',
        /persistent workspaces restore from the store on another host/,
      );
    }
    const b = (await listHosts(hostA.url)).find((host) => host.id === 'host-b');
    assert.equal(b?.state, 'gone');

    // The workspace as host B last synced it (before the killed run), now on host A.
    const restored = await api.mags.runAndWait('cat /workspace/note', {
      workspace: 'shared',
      persist: true,
    });
    assert.equal(restored.job.host, 'host-a');
    assert.equal(restored.job.status, 'succeeded', restored.stderr);
    assert.equal(restored.stdout, 'from-b\n');
  });

  test('a job on another host is stopped, and followed in the job list, through the API-only server', async () => {
    const following = new AbortController();
    const statuses: string[] = [];
    let jobId = '';
    const changes = (async () => {
      for await (const change of api.mags.jobs.follow({ signal: following.signal })) {
        if (change.type === 'job' && change.job.id === jobId) statuses.push(change.job.status);
        if (statuses.includes('stopped')) return;
      }
    })().catch(() => {});
    const job = await api.mags.run('echo up; sleep 60');
    jobId = job.id;
    assert.equal(job.host, 'host-a');
    const up = new AbortController();
    await api.mags.jobs
      .logs(job.id, {
        onStdout: () => up.abort(),
        signal: up.signal,
      })
      .catch(() => {});
    const stopped = await api.mags.jobs.stop(job.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal((await hostA.mags.jobs.get(job.id)).status, 'stopped');
    await waitUntil(async () => statuses.includes('stopped'), 10_000);
    following.abort();
    await changes;
    assert.ok(statuses.includes('running'), `changes seen: ${statuses.join(', ')}`);
  });

  test('a run with uploaded files is refused by the API-only server, clearly', async () => {
    await assert.rejects(
      api.mags.run('cat /workspace/x', { files: [{ name: 'x', data: 'hi' }] }),
      (error: { code?: string; hint?: string }) =>
        error.code === 'uploads_need_host' && /host server/.test(error.hint ?? ''),
    );
  });

  test('a host frozen past the timeout is declared gone and, thawed, does not bring its job back', async () => {
    const hostC = await server('host-c');
    let log = '';
    hostC.child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    // Asked of host C itself: an idle tie goes to the receiving host.
    // Its command ends while its server is frozen: on thawing, the server sees it end, and must
    // not record that over the failure.
    const job = await hostC.mags.run('echo started; sleep 3; echo finished');
    assert.equal(job.host, 'host-c');
    const up = new AbortController();
    await api.mags.jobs
      .logs(job.id, { onStdout: () => up.abort(), signal: up.signal })
      .catch(() => {});
    hostC.child.kill('SIGSTOP');
    let failed = await api.mags.jobs.get(job.id);
    try {
      await waitUntil(async () => {
        failed = await api.mags.jobs.get(job.id);
        return failed.status === 'failed';
      }, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 3000)); // its command has ended by now
    } finally {
      hostC.child.kill('SIGCONT');
    }
    assert.match(failed.reason ?? '', /^host host-c stopped heartbeating/);
    await waitUntil(async () => log.includes('was declared gone by another server'), 15_000);
    // Its job stays as the sweep left it: the thawed host stopped it and recorded nothing more.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = await api.mags.jobs.get(job.id);
    assert.deepEqual(
      [after.status, after.reason, after.finishedAt],
      ['failed', failed.reason, failed.finishedAt],
    );
    const c = (await listHosts(api.url)).find((host) => host.id === 'host-c');
    assert.equal(c?.state, 'gone');
  });
});
