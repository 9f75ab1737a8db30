import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MagsError } from '../errors/mags-error.ts';
import { maxNotificationPayloadBytes } from './state-notifications.ts';
import type {
  HostRecord,
  JobRecord,
  SandboxRecord,
  StateChannel,
  StateRepository,
} from './state-repository.ts';

/**
 * The hosts, job queue and notifications part of the state contract (issue 17), run by every
 * `StateRepository`. `createRepository` opens fresh, empty storage; `openAnother` opens a second
 * repository on that same storage (SQLite: the same file; PostgreSQL: the same database over
 * other connections), as a second server process sharing the state would.
 */
export function runHostStateContract(options: {
  name: string;
  createRepository: () => Promise<StateRepository>;
  openAnother: () => Promise<StateRepository>;
}): void {
  describe(`host state contract: ${options.name}`, () => {
    let state: StateRepository;
    let other: StateRepository;
    before(async () => {
      state = await options.createRepository();
      other = await options.openAnother();
    });
    after(async () => {
      await other.close();
      await state.close();
    });

    test('hosts register, beat and are listed; a beat of a server no longer serving it is refused', async () => {
      const a = host('h-a', 'srv-a1');
      const b = host('h-b', 'srv-b1', { address: null, runtimes: ['qemu'] });
      await state.registerHost(b);
      await state.registerHost(a);
      assert.deepEqual(await other.listHosts(), [a, b]);
      const beat = { heartbeatAt: at(5), runningJobs: 2, warmWorkspaces: ['alice.web'] };
      assert.equal(await state.heartbeatHost('h-a', 'srv-a1', beat), true);
      assert.deepEqual((await other.listHosts())[0], { ...a, ...beat });
      // Another server process registers the host (a restart): the old one's beats are refused.
      const restarted = host('h-a', 'srv-a2', { startedAt: at(6), heartbeatAt: at(6) });
      await other.registerHost(restarted);
      assert.equal(
        await state.heartbeatHost('h-a', 'srv-a1', { ...beat, heartbeatAt: at(7) }),
        false,
      );
      assert.deepEqual((await state.listHosts())[0], restarted);
      assert.equal(await state.heartbeatHost('h-none', 'srv-a1', beat), false);
      // Leaving cleanly removes the record, only for the server that serves it.
      await state.removeHost('h-b', 'srv-other');
      assert.equal((await state.listHosts()).length, 2);
      await state.removeHost('h-b', 'srv-b1');
      assert.deepEqual(
        (await other.listHosts()).map((each) => each.id),
        ['h-a'],
      );
    });

    test('a host id held by another live server is refused; a stale, gone or own record is replaced', async () => {
      const first = host('h-dup', 'srv-d1', { heartbeatAt: at(10) });
      await state.registerHost(first);
      const second = host('h-dup', 'srv-d2', { startedAt: at(11), heartbeatAt: at(11) });
      // Its heartbeat is after the line: the first server is live, nothing is written.
      assert.deepEqual(await other.registerHost(second, { liveIfBeatAfter: at(9) }), first);
      assert.deepEqual(
        (await state.listHosts()).find((each) => each.id === 'h-dup'),
        first,
      );
      assert.equal(
        await state.heartbeatHost('h-dup', 'srv-d1', { ...first, heartbeatAt: at(12) }),
        true,
      );
      // Its heartbeat at or before the line: stale, replaced.
      assert.equal(await other.registerHost(second, { liveIfBeatAfter: at(12) }), undefined);
      assert.deepEqual(
        (await state.listHosts()).find((each) => each.id === 'h-dup'),
        second,
      );
      // The same server again, whatever its heartbeat.
      const again = { ...second, heartbeatAt: at(13) };
      assert.equal(await other.registerHost(again, { liveIfBeatAfter: at(0) }), undefined);
      // A gone record, whatever its heartbeat.
      assert.ok(await state.markHostGone('h-dup', again, at(14), 'host h-dup gone'));
      const third = host('h-dup', 'srv-d3', { heartbeatAt: at(15) });
      assert.equal(await state.registerHost(third, { liveIfBeatAfter: at(0) }), undefined);
      assert.deepEqual(
        (await other.listHosts()).find((each) => each.id === 'h-dup'),
        third,
      );
      await state.removeHost('h-dup', 'srv-d3');
    });

    test("a job's end is written only while it is unfinished and still its server's", async () => {
      await state.insertJob(job('u-mine', { host: 'h-u', server: 'srv-u1', status: 'running' }));
      const end = { status: 'succeeded' as const, exitCode: 0, finishedAt: at(20) };
      // Another server's process: nothing written.
      assert.equal(await other.updateUnfinishedJob('u-mine', 'srv-u2', end), false);
      assert.equal((await state.getJob('alice', 'u-mine'))?.status, 'running');
      // Failed meanwhile (a sweep found its host silent): the late end is not written over it.
      await other.updateJob('u-mine', { status: 'failed', reason: 'host h-u gone' });
      assert.equal(await state.updateUnfinishedJob('u-mine', 'srv-u1', end), false);
      const failed = await other.getJob('alice', 'u-mine');
      assert.deepEqual(
        [failed?.status, failed?.reason, failed?.exitCode],
        ['failed', 'host h-u gone', null],
      );
      // Still running and its own: written.
      await state.insertJob(job('u-own', { host: 'h-u', server: 'srv-u1', status: 'running' }));
      assert.equal(await state.updateUnfinishedJob('u-own', 'srv-u1', end), true);
      assert.equal((await other.getJob('alice', 'u-own'))?.status, 'succeeded');
      assert.equal(await state.updateUnfinishedJob('u-own', 'srv-u1', end), false, 'once');
    });

    test("a held sandbox's writes apply only while its record is still this process's, and not stopped", async () => {
      const mine = { ...sandbox('s-held', 'h-s', 'running'), server: 'srv-s1' };
      await state.upsertSandbox(mine);
      assert.equal(await state.upsertSandbox({ ...mine, status: 'sleeping' }, 'holding'), true);
      // The sweep stops it (its host found silent): the thawed host's late writes do not apply.
      await other.upsertSandbox({ ...mine, status: 'stopped', runtimeId: null, reason: 'gone' });
      assert.equal(await state.upsertSandbox({ ...mine, status: 'running' }, 'holding'), false);
      assert.equal((await other.getSandbox('alice', 's-held'))?.status, 'stopped');
      // Started again on another host: over a stopped record, a start applies.
      const there = { ...mine, host: 'h-c', server: 'srv-c1', runtimeId: 'rt-c' };
      assert.equal(await other.upsertSandbox(there, 'starting'), true);
      assert.equal(await state.upsertSandbox({ ...mine, status: 'sleeping' }, 'holding'), false);
      assert.equal(await state.upsertSandbox(mine, 'starting'), false, 'not over a running one');
      const stored = await state.getSandbox('alice', 's-held');
      assert.deepEqual([stored?.host, stored?.status], ['h-c', 'running']);
      await state.deleteSandbox('alice', 's-held');
    });

    test('a silent host is marked gone once: its unfinished work only, and only if it did not beat', async () => {
      const gone = host('h-gone', 'srv-g1');
      const live = host('h-live', 'srv-l1');
      await state.registerHost(gone);
      await state.registerHost(live);
      for (const record of [
        job('g-queued', { host: 'h-gone', status: 'queued' }),
        job('g-claimed', { host: 'h-gone', server: 'srv-g1', status: 'queued' }),
        job('g-running', { host: 'h-gone', server: 'srv-g1', status: 'running' }),
        job('g-done', { host: 'h-gone', server: 'srv-g1', status: 'succeeded', exitCode: 0 }),
        job('l-running', { host: 'h-live', server: 'srv-l1', status: 'running' }),
        job('l-queued', { host: 'h-live', status: 'queued' }),
      ]) {
        await state.insertJob(record);
      }
      for (const record of [
        sandbox('g-box', 'h-gone', 'running'),
        sandbox('g-nap', 'h-gone', 'sleeping'),
        sandbox('g-off', 'h-gone', 'stopped'),
        sandbox('l-box', 'h-live', 'running'),
      ]) {
        await state.upsertSandbox(record);
      }
      const expected = { server: 'srv-g1', heartbeatAt: gone.heartbeatAt };
      // It beat after it was read: nothing happens.
      assert.equal(
        await state.heartbeatHost('h-gone', 'srv-g1', {
          heartbeatAt: at(9),
          runningJobs: 1,
          warmWorkspaces: [],
        }),
        true,
      );
      assert.equal(await other.markHostGone('h-gone', expected, at(10), 'silent'), undefined);
      assert.equal(
        await other.markHostGone('h-gone', { ...expected, server: 'srv-x' }, at(10), 'silent'),
        undefined,
      );
      assert.equal((await state.listHosts()).find((each) => each.id === 'h-gone')?.goneAt, null);
      assert.equal((await state.getJob('alice', 'g-running'))?.status, 'running');
      assert.equal((await state.getSandbox('alice', 'g-box'))?.status, 'running');

      // Read again, still silent: marked gone, its queued and running jobs failed with the
      // reason, its running and sleeping sandboxes stopped; nothing else changed.
      const reason = 'host h-gone stopped heartbeating';
      const current = { server: 'srv-g1', heartbeatAt: at(9) };
      const taken = await other.markHostGone('h-gone', current, at(20), reason);
      assert.ok(taken, 'the first markHostGone changes something');
      assert.deepEqual(taken.jobs.map((each) => each.id).sort(), [
        'g-claimed',
        'g-queued',
        'g-running',
      ]);
      for (const each of taken.jobs) {
        assert.deepEqual(
          [each.status, each.endReason, each.reason, each.message, each.finishedAt],
          ['failed', 'failed', reason, reason, at(20)],
        );
        assert.deepEqual(await state.getJob('alice', each.id), each);
      }
      assert.deepEqual(taken.sandboxes.map((each) => each.name).sort(), ['g-box', 'g-nap']);
      for (const each of taken.sandboxes) {
        assert.deepEqual([each.status, each.reason, each.runtimeId], ['stopped', reason, null]);
        assert.deepEqual(await state.getSandbox('alice', each.name), each);
      }
      const hosts = await state.listHosts();
      assert.deepEqual(
        hosts.find((each) => each.id === 'h-gone'),
        {
          ...gone,
          heartbeatAt: at(9),
          runningJobs: 1,
          warmWorkspaces: [],
          goneAt: at(20),
          goneReason: reason,
        },
      );
      assert.deepEqual(
        hosts.find((each) => each.id === 'h-live'),
        live,
      );
      assert.equal((await state.getJob('alice', 'g-done'))?.status, 'succeeded');
      assert.equal((await state.getJob('alice', 'l-running'))?.status, 'running');
      assert.equal((await state.getJob('alice', 'l-queued'))?.status, 'queued');
      assert.equal((await state.getSandbox('alice', 'l-box'))?.status, 'running');
      assert.equal((await state.getSandbox('alice', 'g-off'))?.reason, null);

      // Twice: once only, from either instance; a gone host's beats are refused.
      assert.equal(await state.markHostGone('h-gone', current, at(21), reason), undefined);
      assert.equal(
        await state.heartbeatHost('h-gone', 'srv-g1', {
          heartbeatAt: at(22),
          runningJobs: 0,
          warmWorkspaces: [],
        }),
        false,
      );
      // A new server registering the host brings it back.
      const back = host('h-gone', 'srv-g2', { startedAt: at(30), heartbeatAt: at(30) });
      await state.registerHost(back);
      assert.deepEqual(
        (await other.listHosts()).find((each) => each.id === 'h-gone'),
        back,
      );
    });

    test('the queue hands a host its unclaimed queued jobs, oldest first, at most the limit', async () => {
      for (const record of [
        job('q-3', { host: 'h-q', status: 'queued', createdAt: at(3) }),
        job('q-1', { host: 'h-q', status: 'queued', createdAt: at(1) }),
        job('q-2', { host: 'h-q', status: 'queued', createdAt: at(2) }),
        job('q-4', { host: 'h-q', status: 'queued', createdAt: at(4) }),
        job('q-taken', { host: 'h-q', server: 'srv-x', status: 'queued', createdAt: at(0) }),
        job('q-running', { host: 'h-q', server: 'srv-x', status: 'running', createdAt: at(0) }),
        job('q-elsewhere', { host: 'h-r', status: 'queued', createdAt: at(0) }),
        job('q-nowhere', { host: null, status: 'queued', createdAt: at(0) }),
      ]) {
        await state.insertJob(record);
      }
      assert.deepEqual(await state.claimQueuedJobs('h-q', 'srv-q', 0), []);
      const first = await state.claimQueuedJobs('h-q', 'srv-q', 2);
      assert.deepEqual(
        first.map((each) => [each.id, each.server, each.status]),
        [
          ['q-1', 'srv-q', 'queued'],
          ['q-2', 'srv-q', 'queued'],
        ],
      );
      assert.deepEqual(
        (await other.claimQueuedJobs('h-q', 'srv-o', 10)).map((each) => each.id),
        ['q-3', 'q-4'],
      );
      assert.deepEqual(await state.claimQueuedJobs('h-q', 'srv-q', 10), []);
      assert.equal((await state.getJob('alice', 'q-4'))?.server, 'srv-o');
      assert.equal((await state.getJob('alice', 'q-taken'))?.server, 'srv-x');
      assert.equal((await state.getJob('alice', 'q-elsewhere'))?.server, null);
      assert.equal((await state.getJob('alice', 'q-nowhere'))?.server, null);
      for (const bad of [-1, 1.5, Number.NaN]) {
        await assert.rejects(
          state.claimQueuedJobs('h-r', 'srv-q', bad),
          (error: MagsError) =>
            error.code === 'invalid_input' && /whole number/.test(error.message),
        );
      }
      assert.equal((await state.getJob('alice', 'q-elsewhere'))?.server, null);
    });

    test("a placed run's environment is handed to the host that takes it and leaves the state", async () => {
      const runOptions = { network: 'none', env: { SECRET: 'hunter2' } };
      await state.insertJob(job('env-1', { host: 'h-env', status: 'queued', runOptions }));
      await state.insertJob(job('env-2', { host: 'h-env-gone', status: 'queued', runOptions }));
      const [taken] = await state.claimQueuedJobs('h-env', 'srv-env', 5);
      assert.deepEqual(taken?.runOptions, runOptions, 'the claim returns it');
      assert.equal(taken?.server, 'srv-env');
      const stored = await other.getJob('alice', 'env-1');
      assert.deepEqual(stored?.runOptions, { network: 'none' }, 'stored without env');
      assert.equal(stored?.server, 'srv-env');
      // A placed run failed before any host took it (its host gone) keeps no environment either.
      const gone = host('h-env-gone', 'srv-g');
      await state.registerHost(gone);
      const failed = await other.markHostGone('h-env-gone', gone, at(30), 'silent');
      assert.deepEqual(
        failed?.jobs.map((each) => each.runOptions),
        [{ network: 'none' }],
      );
      assert.deepEqual((await state.getJob('alice', 'env-2'))?.runOptions, { network: 'none' });
    });

    test('two repositories claiming at once from one queue take every job exactly once', async () => {
      const placed = Array.from({ length: 50 }, (_, index) =>
        job(`race-${String(index).padStart(2, '0')}`, {
          host: 'h-race',
          status: 'queued',
          createdAt: at(index),
        }),
      );
      for (const record of placed) await state.insertJob(record);
      const drain = async (repository: StateRepository, server: string) => {
        const taken: string[] = [];
        for (;;) {
          const claimed = await repository.claimQueuedJobs('h-race', server, 3);
          if (claimed.length === 0) return taken;
          for (const each of claimed) {
            assert.equal(each.server, server);
            taken.push(each.id);
          }
        }
      };
      // Several claimers per repository, so each one's pool runs claims side by side too.
      const [first, second, third, fourth] = await Promise.all([
        drain(state, 'srv-1'),
        drain(other, 'srv-2'),
        drain(state, 'srv-1'),
        drain(other, 'srv-2'),
      ]);
      const all = [first, second, third, fourth].flat();
      assert.equal(all.length, 50, 'no job taken twice');
      assert.deepEqual(
        [...all].sort(),
        placed.map((each) => each.id),
      );
      const byServer = { 'srv-1': [...first, ...third], 'srv-2': [...second, ...fourth] };
      for (const [server, ids] of Object.entries(byServer)) {
        for (const id of ids) assert.equal((await other.getJob('alice', id))?.server, server);
      }
    });

    test('notifications arrive in order, on this repository and another on the same storage', async () => {
      const here = await collect(state, 'job_output');
      const there = await collect(other, 'job_output');
      const elsewhere = await collect(other, 'job_changed');
      const sent = Array.from({ length: 20 }, (_, index) => `job-1:${index * 100}`);
      for (const payload of sent) await state.notify('job_output', payload);
      await other.notify('job_changed', 'job-1');
      await waitFor(() => here.payloads.length === 20 && there.payloads.length === 20);
      await waitFor(() => elsewhere.payloads.length === 1);
      assert.deepEqual(here.payloads, sent);
      assert.deepEqual(there.payloads, sent);
      assert.deepEqual(elsewhere.payloads, ['job-1']);
      for (const each of [here, there, elsewhere]) await each.stop();
    });

    test('an unsubscribed listener hears nothing more; one that throws does not stop the others', async () => {
      const stopped = await collect(other, 'hosts');
      const thrower = await other.listen('hosts', () => {
        throw new Error('a listener that throws (expected in this test)');
      });
      const kept = await collect(other, 'hosts');
      await state.notify('hosts', 'h-1');
      await waitFor(() => stopped.payloads.length === 1 && kept.payloads.length === 1);
      await stopped.stop();
      await state.notify('hosts', 'h-2');
      await state.notify('hosts', 'h-3');
      await waitFor(() => kept.payloads.length === 3);
      assert.deepEqual(kept.payloads, ['h-1', 'h-2', 'h-3']);
      assert.deepEqual(stopped.payloads, ['h-1']);
      await thrower();
      await kept.stop();
    });

    test('a closed repository hears nothing more', async () => {
      const closing = await options.openAnother();
      const closed = await collect(closing, 'job_changed');
      await closing.close();
      const open = await collect(other, 'job_changed');
      await state.notify('job_changed', 'after-close');
      await waitFor(() => open.payloads.length === 1);
      assert.deepEqual(closed.payloads, []);
      await open.stop();
    });

    test('a payload longer than notifications carry, or with a NUL, is refused with a clear error; the longest arrives', async () => {
      const heard = await collect(other, 'jobs_placed');
      const longest = 'x'.repeat(maxNotificationPayloadBytes);
      // Bytes count, not characters: 4000 two-byte characters are 8000 bytes.
      for (const tooLong of [`${longest}x`, 'é'.repeat(4000)]) {
        await assert.rejects(
          state.notify('jobs_placed', tooLong),
          (error: MagsError) =>
            error.code === 'notification_too_long' &&
            error.message.includes(`at most ${maxNotificationPayloadBytes}`) &&
            Boolean(error.hint),
        );
      }
      await assert.rejects(
        state.notify('jobs_placed', 'job-1\u0000'),
        (error: MagsError) => error.code === 'notification_invalid',
      );
      await state.notify('jobs_placed', longest);
      await state.notify('jobs_placed', 'after');
      await waitFor(() => heard.payloads.length === 2);
      assert.deepEqual(heard.payloads, [longest, 'after']);
      await heard.stop();
    });
  });
}

const at = (second: number) => new Date(Date.UTC(2026, 10, 30, 9, 0, second)).toISOString();

function host(id: string, server: string, fields: Partial<HostRecord> = {}): HostRecord {
  return {
    id,
    server,
    address: `http://${id}.internal:7070`,
    runtimes: ['namespace'],
    maxJobs: 4,
    runningJobs: 0,
    warmWorkspaces: [],
    startedAt: at(0),
    heartbeatAt: at(0),
    goneAt: null,
    goneReason: null,
    ...fields,
  };
}

function job(id: string, fields: Partial<JobRecord>): JobRecord {
  return {
    id,
    owner: 'alice',
    kind: 'run',
    sandbox: null,
    argv: ['true'],
    workspace: null,
    status: 'queued',
    exitCode: null,
    signal: null,
    reason: null,
    endReason: null,
    message: null,
    sandboxId: null,
    createdAt: at(0),
    startedAt: null,
    finishedAt: null,
    logBytes: 0,
    logsRemovedAt: null,
    logsRemovedReason: null,
    host: null,
    server: null,
    ...fields,
  };
}

function sandbox(name: string, onHost: string, status: SandboxRecord['status']): SandboxRecord {
  return {
    owner: 'alice',
    name,
    runtimeId: status === 'stopped' ? null : `rt-${name}`,
    workspace: null,
    status,
    options: {},
    reason: null,
    createdAt: at(0),
    lastActiveAt: at(0),
    host: onHost,
    server: status === 'stopped' ? null : 'srv',
  };
}

/** Listens on `channel`, keeping what arrives. */
async function collect(repository: StateRepository, channel: StateChannel) {
  const payloads: string[] = [];
  const stop = await repository.listen(channel, (payload) => payloads.push(payload));
  return { payloads, stop };
}

/** Waits for `condition`; a notification that never arrives fails the test after 10 s. */
async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for notifications');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
