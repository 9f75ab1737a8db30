import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostRecord } from '../state/state-repository.ts';
import { isLiveHost, placeJob } from './host-placement.ts';

const now = Date.parse('2026-11-30T10:00:00.000Z');
const secondsAgo = (seconds: number) => new Date(now - seconds * 1000).toISOString();

function host(id: string, fields: Partial<HostRecord> = {}): HostRecord {
  return {
    id,
    server: `server-${id}`,
    address: `http://${id}:7070`,
    runtimes: ['namespace'],
    maxJobs: 4,
    runningJobs: 0,
    warmWorkspaces: [],
    startedAt: secondsAgo(60),
    heartbeatAt: secondsAgo(1),
    goneAt: null,
    goneReason: null,
    ...fields,
  };
}

const request = {
  runtime: 'namespace',
  workspace: undefined,
  self: undefined,
  now,
  hostTimeoutMs: 15_000,
};

test('a host is live while heard from within the timeout and not marked gone', () => {
  assert.equal(isLiveHost(host('a'), now, 15_000), true);
  assert.equal(isLiveHost(host('a', { heartbeatAt: secondsAgo(16) }), now, 15_000), false);
  assert.equal(isLiveHost(host('a', { goneAt: secondsAgo(1) }), now, 15_000), false);
});

test('the least loaded live host with the runtime gets the job', () => {
  const hosts = [
    host('a', { runningJobs: 3 }),
    host('b', { runningJobs: 1 }),
    host('c', { runningJobs: 0, heartbeatAt: secondsAgo(30) }), // silent
    host('d', { runningJobs: 0, goneAt: secondsAgo(5), goneReason: 'gone' }),
    host('e', { runningJobs: 0, runtimes: ['qemu'] }),
  ];
  assert.deepEqual(placeJob(hosts, request)?.host.id, 'b');
  assert.equal(placeJob(hosts, request)?.reason, 'least-loaded');
  assert.equal(placeJob(hosts, { ...request, runtime: 'qemu' })?.host.id, 'e');
  assert.equal(placeJob(hosts, { ...request, runtime: 'firecracker' }), undefined);
});

test('load is relative to capacity; ties go to the placing host, then by id', () => {
  const hosts = [
    host('a', { runningJobs: 2, maxJobs: 4 }),
    host('b', { runningJobs: 4, maxJobs: 16 }),
  ];
  assert.equal(placeJob(hosts, request)?.host.id, 'b');
  const even = [host('c'), host('a'), host('b')];
  assert.equal(placeJob(even, request)?.host.id, 'a');
  assert.equal(placeJob(even, { ...request, self: 'c' })?.host.id, 'c');
});

test('a host with the workspace parked warm wins over a less loaded one, unless it is full', () => {
  const hosts = [
    host('a', { runningJobs: 0 }),
    host('b', { runningJobs: 3, warmWorkspaces: ['alice.app'] }),
  ];
  const warm = placeJob(hosts, { ...request, workspace: 'alice.app', self: 'a' });
  assert.deepEqual([warm?.host.id, warm?.reason], ['b', 'warm']);
  assert.equal(placeJob(hosts, { ...request, workspace: 'alice.other' })?.host.id, 'a');
  const full = [host('a'), host('b', { runningJobs: 4, warmWorkspaces: ['alice.app'] })];
  assert.equal(placeJob(full, { ...request, workspace: 'alice.app' })?.host.id, 'a');
  const silent = [
    host('a'),
    host('b', { warmWorkspaces: ['alice.app'], heartbeatAt: secondsAgo(20) }),
  ];
  assert.equal(placeJob(silent, { ...request, workspace: 'alice.app' })?.host.id, 'a');
});

test('when every live host is full the job goes to the least loaded one, to wait in its queue', () => {
  const hosts = [host('a', { runningJobs: 6 }), host('b', { runningJobs: 5 })];
  const placement = placeJob(hosts, request);
  assert.deepEqual([placement?.host.id, placement?.reason], ['b', 'all-full']);
});

test("a warm copy behind the store's latest version is not warm: the run goes where it is current, or cold", () => {
  // a is less loaded and has W at version 1; b has it at version 2, the store's latest.
  const a = host('a', { warmWorkspaces: ['alice.w@1'] });
  const b = host('b', { runningJobs: 2, warmWorkspaces: ['alice.w@2'] });
  const c = host('c', { runningJobs: 1 });
  const current = placeJob([a, b, c], { ...request, workspace: 'alice.w', storeVersion: 2 });
  assert.deepEqual([current?.host.id, current?.reason], ['b', 'warm']);
  // Another host pushed version 3: neither copy is current; the least loaded gets it, cold.
  const stale = placeJob([a, b, c], { ...request, workspace: 'alice.w', storeVersion: 3 });
  assert.deepEqual([stale?.host.id, stale?.reason], ['a', 'least-loaded']);
  const behind = placeJob([b, c], { ...request, workspace: 'alice.w', storeVersion: 3 });
  assert.deepEqual([behind?.host.id, behind?.reason], ['c', 'least-loaded']);
  // The store's latest unknown (nothing synced yet): warm by name, whatever the version.
  const unknown = placeJob([b, c], { ...request, workspace: 'alice.w' });
  assert.deepEqual([unknown?.host.id, unknown?.reason], ['b', 'warm']);
  // An entry without a version (an older server) is warm by name only.
  const old = host('d', { runningJobs: 3, warmWorkspaces: ['alice.w'] });
  assert.equal(placeJob([old, c], { ...request, workspace: 'alice.w' })?.host.id, 'd');
  assert.equal(
    placeJob([old, c], { ...request, workspace: 'alice.w', storeVersion: 1 })?.host.id,
    'c',
  );
});
