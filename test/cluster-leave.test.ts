/**
 * Servers sharing one state, in one process (two repositories on one SQLite file hear each
 * other's notifications, as PostgreSQL clients do): what a host leaving cleanly does to the jobs
 * placed on it, and what an API-only server says when no host can take a run.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { newJob } from '../src/jobs/new-job.ts';
import { Mags } from '../src/sdk/mags.ts';
import { createToken } from '../src/server/tokens.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the cluster tests: ${skip}\n`);

describe('servers on one shared state (in-process)', { skip }, () => {
  const servers: TestServer[] = [];
  let stateHome: TestHome | undefined;
  after(async () => {
    for (const server of servers) await server.close().catch(() => {});
    await stateHome?.cleanup();
  });

  async function sharedState() {
    stateHome ??= await createTestHome();
    return createSqliteStateRepository(join(stateHome.home, 'shared.db'));
  }

  test('a host that stops cleanly fails the jobs placed on it that it had not taken, and leaves', async () => {
    const host = await startTestServer({
      repository: await sharedState(),
      hostId: 'leaving',
      scheduling: { poolSize: 0 },
      // Only notified jobs are taken (no poll during the test): the one below never is.
      cluster: { queuePollMs: 600_000 },
    });
    servers.push(host);
    const state = await sharedState();
    try {
      assert.deepEqual(
        (await state.listHosts()).map((one) => one.id),
        ['leaving'],
      );
      const placed = {
        ...newJob('alice', 'run', ['true'], null, null, 'namespace'),
        host: 'leaving',
        server: null,
      };
      await state.insertJob(placed);
      await host.close();
      const failed = await state.getJob('alice', placed.id);
      assert.equal(failed?.status, 'failed');
      assert.equal(
        failed?.reason,
        'host leaving shut down before it started this job: run it again (it goes to a live host)',
      );
      assert.deepEqual(await state.listHosts(), []);
    } finally {
      await state.close();
    }
  });

  test('an API-only server with no live host refuses a run with a 503 that says what to do', async () => {
    const api = await startTestServer({
      repository: await sharedState(),
      hostId: 'api',
      cluster: { apiOnly: true },
    });
    servers.push(api);
    const { token } = await createToken(api.server.services.repository, 'alice', 'test');
    const mags = new Mags({ url: api.url, token });
    await assert.rejects(
      mags.run('true'),
      (error: { code?: string; statusCode?: number; hint?: string }) => {
        assert.equal(error.code, 'no_live_host');
        assert.equal(error.statusCode, 503);
        // An owner is told what happened and that it may pass later; the operator's details (which
        // runtime, what to start) are in the server's log.
        assert.match(String(error), /No live host can run this job now/);
        assert.equal(error.hint, 'This may pass if tried again later.');
        return true;
      },
    );
    // Nothing recorded (the one job of alice's is the previous test's).
    const { jobs } = await mags.jobs.list();
    assert.deepEqual(
      jobs.map((job) => job.host),
      ['leaving'],
    );
  });

  test("a host that stops cleanly stays listed until its jobs' ends are recorded, and leaves last", async () => {
    const host = await startTestServer({
      repository: await sharedState(),
      hostId: 'ending',
      scheduling: { poolSize: 0 },
      cluster: {},
    });
    servers.push(host);
    const state = await sharedState();
    try {
      const { mags } = await host.client('bob');
      // Deaf to SIGTERM: the stop waits its kill grace, the window a killed stop would cut short.
      const job = await mags.run(['sh', '-c', "trap '' TERM; echo up; sleep 30"]);
      for (let wait = 0; wait < 200; wait++) {
        if ((await state.getJob('bob', job.id))?.status === 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      let closed = false;
      const closing = host.close().finally(() => {
        closed = true;
      });
      // Every moment of the stop: a job recorded running has its host listed (the sweep walks the
      // hosts; a job of a host no longer listed would stay running for good).
      let observedRunning = 0;
      while (!closed) {
        const status = (await state.getJob('bob', job.id))?.status;
        const listed = (await state.listHosts()).some((one) => one.id === 'ending');
        if (status === 'running') {
          observedRunning++;
          assert.ok(listed, 'the host is listed while its job is recorded running');
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await closing;
      assert.ok(observedRunning > 0, 'the stop was watched while the job ran');
      assert.equal((await state.getJob('bob', job.id))?.status, 'stopped');
      assert.deepEqual(
        (await state.listHosts()).filter((one) => one.id === 'ending'),
        [],
      );
    } finally {
      await state.close();
    }
  });

  test('a host declared gone stops its sandboxes and refuses new work with host_gone; its late writes do not land', async () => {
    const host = await startTestServer({
      repository: await sharedState(),
      hostId: 'thawed',
      scheduling: { poolSize: 0 },
      cluster: { heartbeatMs: 200 },
    });
    servers.push(host);
    const state = await sharedState();
    try {
      const { mags } = await host.client('carol');
      await mags.sandboxes.create({ name: 'box' });
      assert.ok(await mags.sandboxes.exec('box', 'true'));
      // Another server's sweep (what it does to a host it found silent), at the heartbeat read.
      for (let marked = undefined; !marked; ) {
        const record = (await state.listHosts()).find((one) => one.id === 'thawed');
        assert.ok(record);
        marked = await state.markHostGone('thawed', record, new Date().toISOString(), 'gone');
      }
      for (let wait = 0; wait < 200 && host.server.cluster?.role !== 'gone host'; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.equal(host.server.cluster?.role, 'gone host');
      const refused = { statusCode: 503, code: 'host_gone' };
      await assert.rejects(mags.sandboxes.exec('box', 'true'), refused);
      await assert.rejects(mags.sandboxes.start('box'), refused);
      await assert.rejects(mags.sandboxes.create({ name: 'another' }), { statusCode: 503 });
      // Stopped here too, and the sweep's record stays as it wrote it.
      assert.equal(host.server.services.sandboxes.countsFor('carol').running, 0);
      const stored = await state.getSandbox('carol', 'box');
      assert.deepEqual([stored?.status, stored?.reason], ['stopped', 'gone']);
    } finally {
      await state.close();
    }
  });
});
