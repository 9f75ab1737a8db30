import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostRecord } from '../../state/state-repository.ts';
import { NoHostAvailableError } from './forward-errors.ts';
import { placeOnHost } from './place-on-host.ts';

const nowMs = Date.parse('2026-11-30T10:00:00.000Z');
const options = { nowMs, staleAfterMs: 30_000 };

function host(id: string, fields: Partial<HostRecord> = {}): HostRecord {
  return {
    id,
    server: `${id}-server`,
    address: `http://${id}.test:7070`,
    runtimes: ['namespace'],
    maxJobs: 4,
    runningJobs: 0,
    warmWorkspaces: [],
    startedAt: '2026-11-30T09:00:00.000Z',
    heartbeatAt: '2026-11-30T09:59:55.000Z',
    goneAt: null,
    goneReason: null,
    ...fields,
  };
}

describe('placeOnHost', () => {
  test('the host with the workspace warm wins over one with more room', () => {
    const hosts = [
      host('a', { runningJobs: 0 }),
      host('b', { runningJobs: 3, warmWorkspaces: ['alice.app'] }),
    ];
    assert.equal(placeOnHost(hosts, { warmWorkspace: 'alice.app' }, options).id, 'b');
    assert.equal(placeOnHost(hosts, { warmWorkspace: 'alice.other' }, options).id, 'a');
  });

  test('the most room, then the id, decides among the rest', () => {
    const hosts = [
      host('c', { runningJobs: 1 }),
      host('b', { runningJobs: 2 }),
      host('a', { runningJobs: 1 }),
    ];
    assert.equal(placeOnHost(hosts, {}, options).id, 'a');
  });

  test('gone, silent, unreachable, full and runtime-less hosts are passed over, each with why', () => {
    const hosts = [
      host('gone', { goneAt: '2026-11-30T09:59:00.000Z', goneReason: 'no heartbeat for 30 s' }),
      host('silent', { heartbeatAt: '2026-11-30T09:58:00.000Z' }),
      host('hidden', { address: null }),
      host('full', { runningJobs: 4, warmWorkspaces: ['alice.app'] }),
      host('qemu-less'),
    ];
    assert.throws(
      () => placeOnHost(hosts, { runtime: 'qemu', warmWorkspace: 'alice.app' }, options),
      (error: unknown) => {
        assert.ok(error instanceof NoHostAvailableError);
        assert.equal(error.statusCode, 503);
        assert.match(error.message, /gone: it was found gone at .*no heartbeat for 30 s/);
        assert.match(error.message, /silent: no heartbeat for 120 s/);
        assert.match(error.message, /hidden: it has no address/);
        assert.match(error.message, /full: it has no qemu runtime/);
        assert.match(error.message, /qemu-less: it has no qemu runtime/);
        return true;
      },
    );
    assert.throws(
      () => placeOnHost([host('full', { runningJobs: 4 })], {}, options),
      /full: it is full \(4 of 4 jobs\)/,
    );
  });

  test('no host at all says so', () => {
    assert.throws(() => placeOnHost([], {}, options), /no host is registered/);
  });
});
