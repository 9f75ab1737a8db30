/**
 * What a starting server makes of the work gone server processes left (recoverWork), root-free:
 * the fake runtime's sandboxes outlive the "server" objects that started them
 * (test/helpers/fake-server-host.ts). The branches test/server-restart.test.ts reaches as root
 * with real processes, and those it cannot time: a queued job, a sandbox gone, an exit status
 * delivered to the dead server, stored options another version wrote, a parked and a sleeping
 * sandbox, and two servers on one database of which only one died.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import {
  type FakeServer,
  fakeServerHosts,
  jobOutput as output,
  sh,
  storedBeyond,
  waitForFile as waitFor,
} from '../../test/helpers/fake-server-host.ts';
import { waitUntil } from '../../test/helpers/server-process.ts';
import { currentServerInstance } from '../config/server-instance.ts';
import { lostCommandReason } from '../jobs/continue-run.ts';
import { runtimeLabel } from '../sandboxes/sandbox-spec.ts';
import { ownerWorkspaceName } from '../workspaces/owner-workspace.ts';
import { sandboxGoneReason, unreadableReason } from './recover-work.ts';

const nothing = {
  jobsContinued: 0,
  sandboxesReattached: 0,
  parked: 0,
  jobsFailed: 0,
  sandboxesGone: 0,
  stopped: 0,
  failures: 0,
};

const printed = (server: FakeServer, owner: string, id: string) => storedBeyond(server, owner, id);

/** An exec job in a long-lived sandbox, waited for; its stdout. */
async function execIn(server: FakeServer, owner: string, name: string, script: string) {
  const job = await server.sandboxes.submitExec(owner, name, { argv: sh(script) }, server.jobs);
  await server.jobs.wait(owner, job.id);
  return (await output(server, owner, job.id)).stdout;
}

/**
 * Alice's exec job in a long-lived sandbox `dev` and a run job (on `workspace`, if given), both
 * printing `started` and then waiting for `gate`; with the run's sandbox id.
 */
async function gatedJobs(server: FakeServer, gate: string, workspace?: string) {
  const script = sh(`echo started; ${waitFor(gate)}`);
  await server.sandboxes.create('alice', { name: 'dev', ephemeral: true, sleep: false });
  const exec = await server.sandboxes.submitExec('alice', 'dev', { argv: script }, server.jobs);
  const run = await server.jobs.submitRun('alice', { argv: script, workspace });
  await printed(server, 'alice', exec.id);
  await printed(server, 'alice', run.id);
  const { sandboxId } = await server.jobs.get('alice', run.id);
  return { exec, run, sandboxId };
}

describe('recoverWork: a starting server takes over what gone servers left (fake runtime)', () => {
  const newHost = fakeServerHosts();

  test('a queued job is failed with why; the running one before it goes on', async () => {
    const host = await newHost();
    const gate = join(host.fake.home, 'gate');
    const first = await host.start({ jobs: { maxConcurrentJobs: 1 } });
    const running = await first.jobs.submitRun('alice', {
      argv: sh(`echo one; ${waitFor(gate)}; echo two`),
    });
    const queued = await first.jobs.submitRun('alice', { argv: sh('echo never') });
    await printed(first, 'alice', running.id);
    assert.equal((await first.jobs.get('alice', queued.id)).status, 'queued');
    await first.kill();

    const second = await host.start();
    assert.deepEqual(second.report, { ...nothing, jobsContinued: 1, jobsFailed: 1 });
    const failed = await second.jobs.get('alice', queued.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.endReason, 'failed');
    assert.equal(failed.message, 'the server stopped before this job started');
    assert.deepEqual(await output(second, 'alice', queued.id), {
      stdout: '',
      stderr: 'mags: the server stopped before this job started\n',
    });
    await writeFile(gate, '');
    const done = await second.jobs.wait('alice', running.id);
    assert.equal(done.status, 'succeeded');
    assert.equal((await output(second, 'alice', running.id)).stdout, 'one\ntwo\n');
  });

  test('what ran in a sandbox that ended while no server was there is failed with that reason', async () => {
    const host = await newHost();
    const first = await host.start();
    await first.sandboxes.create('alice', { name: 'doomed', ephemeral: true, sleep: false });
    const exec = await first.sandboxes.submitExec(
      'alice',
      'doomed',
      { argv: sh('echo started; sleep 600') },
      first.jobs,
    );
    const run = await first.jobs.submitRun('alice', { argv: sh('echo started; sleep 600') });
    await printed(first, 'alice', exec.id);
    await printed(first, 'alice', run.id);
    await first.kill();
    // The host kills every sandbox (an OOM kill, a reboot) before the next server starts.
    for (const { id } of await host.runtime.list()) await (await host.runtime.attach(id)).stop();

    const second = await host.start();
    assert.deepEqual(second.report, { ...nothing, jobsFailed: 2, sandboxesGone: 1 });
    for (const id of [exec.id, run.id]) {
      const failed = await second.jobs.get('alice', id);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.endReason, 'failed');
      assert.equal(failed.message, sandboxGoneReason);
      assert.deepEqual(await output(second, 'alice', id), {
        stdout: 'started\n',
        stderr: `mags: ${sandboxGoneReason}\n`,
      });
    }
    const sandbox = await second.sandboxes.get('alice', 'doomed');
    assert.equal(sandbox.status, 'stopped');
    assert.equal(sandbox.reason, sandboxGoneReason);
    assert.equal(sandbox.runtimeId, null);
    assert.equal(sandbox.server, second.instance.server);
  });

  test('a command whose end reached the dying server, unrecorded, is failed as lost; its sandbox stays or goes', async () => {
    const host = await newHost();
    const gate = join(host.fake.home, 'gate');
    const first = await host.start();
    // A run on a workspace: its sandbox is parked once the command ends.
    const { exec, run, sandboxId } = await gatedJobs(first, gate, 'w');
    // It dies just as both commands end: their ends are received, never recorded.
    await first.kill(async () => {
      await writeFile(gate, '');
      await Promise.all([exec.id, run.id].map((id) => first.jobs.wait('alice', id)));
    });
    assert.equal((await first.repository.getJob('alice', exec.id))?.status, 'running');
    assert.equal((await first.repository.getJob('alice', run.id))?.status, 'running');
    assert.ok(
      (await host.runtime.list()).some((info) => info.id === sandboxId),
      'parked',
    );

    const second = await host.start();
    assert.deepEqual(second.report, { ...nothing, jobsFailed: 2, sandboxesReattached: 1 });
    const lost = await second.jobs.get('alice', exec.id);
    assert.equal(lost.status, 'failed');
    assert.equal(lost.message, lostCommandReason);
    const ended = await second.jobs.get('alice', run.id);
    assert.equal(ended.status, 'failed');
    assert.equal(
      ended.message,
      'the server stopped while this job was starting or ending, before its command ran or before it recorded how it ended',
    );
    // The run's sandbox is not parked again for a job whose end is unknown: it is stopped.
    assert.equal(
      (await host.runtime.list()).some((info) => info.id === sandboxId),
      false,
    );
    // The long-lived sandbox is this server's, and serves it.
    assert.equal(await execIn(second, 'alice', 'dev', 'echo here'), 'here\n');
  });

  test('stored options another version wrote, unreadable: the jobs fail, the run sandbox goes', async () => {
    const host = await newHost();
    const gate = join(host.fake.home, 'gate');
    const first = await host.start();
    const { exec, run, sandboxId } = await gatedJobs(first, gate);
    await first.kill();
    const database = new DatabaseSync(join(host.fake.home, 'state.db'));
    try {
      database
        .prepare('UPDATE jobs SET run_options = ? WHERE id IN (?, ?)')
        .run(JSON.stringify({ format: 'from mags 9', timeout: '1h' }), exec.id, run.id);
    } finally {
      database.close();
    }

    const second = await host.start();
    assert.deepEqual(second.report, { ...nothing, jobsFailed: 2, sandboxesReattached: 1 });
    for (const id of [exec.id, run.id]) {
      const failed = await second.jobs.get('alice', id);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.message, unreadableReason);
      assert.equal((await output(second, 'alice', id)).stderr, `mags: ${unreadableReason}\n`);
    }
    assert.equal(
      (await host.runtime.list()).some((info) => info.id === sandboxId),
      false,
      'the run sandbox is stopped',
    );
    assert.equal((await second.sandboxes.get('alice', 'dev')).status, 'running');
  });

  test("a finished run's parked sandbox is parked again for its workspace; a leftover is stopped", async () => {
    const host = await newHost();
    const first = await host.start();
    const warm = await first.jobs.submitRun('alice', { argv: sh('echo warm'), workspace: 'p' });
    const parked = await first.jobs.wait('alice', warm.id);
    assert.equal(parked.status, 'succeeded');
    assert.ok(parked.sandboxId);
    // A sandbox of the dead server's that nothing needs (no job, no record).
    const leftover = await host.runtime.start({
      id: 'leftover',
      image: { name: 'default' },
      limits: host.fake.context.defaults.limits,
      network: { egress: 'none' },
      labels: { server: first.instance.server, kind: 'pool' },
    });
    await leftover.detach();
    await first.kill();

    const second = await host.start();
    assert.deepEqual(second.report, { ...nothing, parked: 1, stopped: 1 });
    assert.deepEqual(
      (await host.runtime.list()).map((info) => info.id),
      [parked.sandboxId],
    );
    // In this server's warm cache, for the workspace, on the terms of its run (the fake cannot
    // change a running sandbox's limits, so only a run with the same limits would get it).
    const entry = await second.scheduler.warm.take(ownerWorkspaceName('alice', 'p'), {
      runtime: 'fake',
      image: 'default',
      network: false,
      limits: host.fake.context.defaults.limits,
    });
    assert.equal(entry?.sandbox.id, parked.sandboxId);
    assert.equal(entry?.sandbox.isRunning(), true);
    await entry?.sandbox.stop();
  });

  test("a leftover labelled with another runtime is that one's; a caller's own `runtime` label is not that mark", async () => {
    const host = await newHost();
    const first = await host.start();
    const leftover = async (id: string, labels: Record<string, string>) => {
      const sandbox = await host.runtime.start({
        id,
        image: { name: 'default' },
        limits: host.fake.context.defaults.limits,
        network: { egress: 'none' },
        labels: { server: first.instance.server, kind: 'pool', ...labels },
      });
      await sandbox.detach();
    };
    // Started on another runtime (a microVM's launcher might show up in this one's list too).
    await leftover('elsewhere', { [runtimeLabel]: 'another-runtime' });
    // A label of the caller's that merely shares the word: this runtime's, stopped as a leftover.
    await leftover('here', { runtime: 'another-runtime' });
    await first.kill();

    const second = await host.start();
    assert.deepEqual(second.report, { ...nothing, stopped: 1 });
    assert.deepEqual(
      (await host.runtime.list()).map((info) => info.id),
      ['elsewhere'],
    );
    await (await host.runtime.attach('elsewhere')).stop();
  });

  test('long-lived sandboxes are attached again: a busy one with its processes, a sleeping one asleep', async () => {
    const host = await newHost();
    const first = await host.start({ sleepAfterMs: 1 });
    await first.sandboxes.create('alice', { name: 'dev', ephemeral: true, sleep: false });
    await first.sandboxes.create('alice', { name: 'sleeper', ephemeral: true });
    const pid = Number(await execIn(first, 'alice', 'dev', 'sleep 300 >/dev/null 2>&1 & echo $!'));
    assert.ok(pid > 1);
    await waitUntil(
      async () => (await first.sandboxes.get('alice', 'sleeper')).status === 'sleeping',
      10_000,
    );
    await first.kill();

    const second = await host.start();
    assert.deepEqual(second.report, { ...nothing, sandboxesReattached: 2 });
    const dev = await second.sandboxes.get('alice', 'dev');
    assert.equal(dev.status, 'running');
    assert.equal(dev.server, second.instance.server);
    assert.equal(await execIn(second, 'alice', 'dev', `kill -0 ${pid} && echo alive`), 'alive\n');
    // Attached, not woken: recovery asks a sleeping sandbox nothing.
    assert.equal((await second.sandboxes.get('alice', 'sleeper')).status, 'sleeping');
    const sleeper = [...host.runtime.running].find((sandbox) => sandbox.labels.name === 'sleeper');
    assert.equal(sleeper?.paused, true);
    assert.equal(await execIn(second, 'alice', 'sleeper', 'echo awake'), 'awake\n');
    assert.equal((await second.sandboxes.get('alice', 'sleeper')).status, 'running');
  });

  test('two servers on one database: a starting one takes over the dead one’s work only', async () => {
    const host = await newHost();
    const gate = join(host.fake.home, 'gate');
    // This test process is the live one (its id is what /proc says); `server-2` is dead to all.
    const alive = await host.start({ server: currentServerInstance().server });
    const dying = await host.start();
    await alive.sandboxes.create('twins', { name: 'box-1', ephemeral: true, sleep: false });
    await dying.sandboxes.create('twins', { name: 'box-2', ephemeral: true, sleep: false });
    const script = sh(`echo one; ${waitFor(gate)}; echo two`);
    const job1 = await alive.jobs.submitRun('twins', { argv: script });
    const job2 = await dying.jobs.submitRun('twins', { argv: script });
    await printed(alive, 'twins', job1.id);
    await printed(dying, 'twins', job2.id);
    const holders = async () => {
      const { repository } = alive;
      return {
        job1: (await repository.getJob('twins', job1.id))?.server,
        job2: (await repository.getJob('twins', job2.id))?.server,
        box1: (await repository.getSandbox('twins', 'box-1'))?.server,
        box2: (await repository.getSandbox('twins', 'box-2'))?.server,
      };
    };
    assert.deepEqual(await holders(), {
      job1: alive.instance.server,
      job2: dying.instance.server,
      box1: alive.instance.server,
      box2: dying.instance.server,
    });

    await dying.kill();
    const third = await host.start();
    assert.deepEqual(third.report, { ...nothing, jobsContinued: 1, sandboxesReattached: 1 });
    assert.deepEqual(await holders(), {
      job1: alive.instance.server,
      job2: third.instance.server,
      box1: alive.instance.server,
      box2: third.instance.server,
    });

    // Each finishes its own job and serves its own sandbox.
    await writeFile(gate, '');
    const done1 = await alive.jobs.wait('twins', job1.id);
    const done2 = await third.jobs.wait('twins', job2.id);
    assert.equal(done1.server, alive.instance.server);
    assert.equal(done2.server, third.instance.server);
    assert.equal((await output(alive, 'twins', job1.id)).stdout, 'one\ntwo\n');
    assert.equal((await output(third, 'twins', job2.id)).stdout, 'one\ntwo\n');
    assert.equal(await execIn(alive, 'twins', 'box-1', 'echo one'), 'one\n');
    assert.equal(await execIn(third, 'twins', 'box-2', 'echo two'), 'two\n');
  });
});
