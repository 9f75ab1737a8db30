import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hostState } from '../../cluster/host-placement.ts';
import { createSqliteStateRepository } from '../../state/sqlite/sqlite-state-repository.ts';
import type { HostRecord, SandboxRecord, StateRepository } from '../../state/state-repository.ts';
import { ForwardLoopError, HostUnavailableError, NoHostAvailableError } from './forward-errors.ts';
import { HostForwarder } from './host-forwarder.ts';
import { hostUnavailableReason } from './host-liveness.ts';

const hostTimeoutMs = 15_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

function host(id: string, fields: Partial<HostRecord> = {}): HostRecord {
  return {
    id,
    server: `${id}-server`,
    address: `http://${id}.test:7070`,
    runtimes: ['namespace'],
    maxJobs: 4,
    runningJobs: 0,
    warmWorkspaces: [],
    startedAt: ago(60_000),
    heartbeatAt: ago(1_000),
    goneAt: null,
    goneReason: null,
    ...fields,
  };
}

function sandbox(name: string, fields: Partial<SandboxRecord> = {}): SandboxRecord {
  return {
    owner: 'alice',
    name,
    runtimeId: 'runtime-id',
    workspace: name,
    status: 'running',
    options: {},
    reason: null,
    createdAt: ago(10_000),
    lastActiveAt: ago(10_000),
    host: 'host-b',
    server: 'host-b-server',
    runtime: 'namespace',
    ...fields,
  };
}

/** The decisions of one place (which host answers a request), on a real SQLite state. */
describe('HostForwarder', () => {
  let directory: string;
  let repository: StateRepository;
  const forwarder = (runsSandboxes = true) =>
    new HostForwarder({
      repository,
      host: 'host-a',
      runsSandboxes,
      defaultRuntime: 'namespace',
      hostTimeoutMs,
    });

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-forwarder-'));
    repository = createSqliteStateRepository(join(directory, 'state.db'));
    await repository.registerHost(host('host-a'));
    await repository.registerHost(host('host-b'));
    await repository.registerHost(host('host-c', { warmWorkspaces: ['alice.warm'] }));
    await repository.registerHost(host('silent', { heartbeatAt: ago(60_000) }));
    await repository.registerHost(host('hidden', { address: null }));
    for (const record of [
      sandbox('on-b'),
      sandbox('here', { host: 'host-a' }),
      sandbox('sleepy', { status: 'sleeping' }),
      sandbox('stopped-on-b', { status: 'stopped', runtimeId: null }),
      sandbox('on-silent', { host: 'silent' }),
      sandbox('on-hidden', { host: 'hidden' }),
      sandbox('on-unknown', { host: 'host-z' }),
      sandbox('stopped-on-gone', { host: 'silent', status: 'stopped', workspace: 'warm' }),
      sandbox('holder', { workspace: 'held' }),
      sandbox('holder-here', { host: 'host-a', workspace: 'held-here' }),
    ]) {
      await repository.upsertSandbox(record);
    }
  });
  after(async () => {
    await repository.close();
    await rm(directory, { recursive: true, force: true });
  });

  test("a running or sleeping sandbox of another live host goes there; this host's stays", async () => {
    const target = { host: 'host-b', address: 'http://host-b.test:7070' };
    assert.deepEqual(await forwarder().forSandbox('alice', 'on-b', undefined), target);
    assert.deepEqual(await forwarder().forSandbox('alice', 'sleepy', undefined), target);
    assert.equal(await forwarder().forSandbox('alice', 'here', undefined), undefined);
  });

  test("another owner's sandbox, or none, is answered here (a 404), never forwarded", async () => {
    assert.equal(await forwarder().forSandbox('bob', 'on-b', undefined), undefined);
    assert.equal(await forwarder().forSandbox('alice', 'missing', undefined), undefined);
  });

  test('a stopped sandbox is state: only a start goes to its host, while that host lives', async () => {
    assert.equal(await forwarder().forSandbox('alice', 'stopped-on-b', undefined), undefined);
    assert.equal(
      (await forwarder().forSandbox('alice', 'stopped-on-b', undefined, 'start'))?.host,
      'host-b',
    );
    // Its host silent: started here, or (with no runtime here) where placement puts it: warm.
    assert.equal(
      await forwarder().forSandbox('alice', 'stopped-on-gone', undefined, 'start'),
      undefined,
    );
    assert.equal(
      (await forwarder(false).forSandbox('alice', 'stopped-on-gone', undefined, 'start'))?.host,
      'host-c',
    );
  });

  test('a silent, unaddressed or unknown host is a 503 host_unavailable naming it and why', async () => {
    const cases: [string, RegExp][] = [
      ['on-silent', /The host silent is unavailable: no heartbeat for 60 s/],
      ['on-hidden', /The host hidden is unavailable: it has no address other servers reach/],
      ['on-unknown', /The host host-z is unavailable: it is not registered/],
    ];
    for (const [name, message] of cases) {
      await assert.rejects(forwarder().forSandbox('alice', name, undefined), (error: unknown) => {
        assert.ok(error instanceof HostUnavailableError);
        assert.equal(error.statusCode, 503);
        assert.equal(error.code, 'host_unavailable');
        assert.match(error.message, message);
        assert.ok(error.hint);
        return true;
      });
    }
  });

  test('a forwarded request is never forwarded again: a 502 naming both hosts', async () => {
    await assert.rejects(forwarder().forSandbox('alice', 'on-b', 'host-x'), (error: unknown) => {
      assert.ok(error instanceof ForwardLoopError);
      assert.equal(error.statusCode, 502);
      assert.match(error.message, /forwarded by the host host-x reached host-a.*held by host-b/);
      return true;
    });
    // Its own sandbox, forwarded to it, is answered here.
    assert.equal(await forwarder().forSandbox('alice', 'here', 'host-x'), undefined);
  });

  test('a new sandbox on an API-only server is placed: warm first, then the least loaded', async () => {
    assert.equal(await forwarder(true).forNewSandbox('alice', { name: 'x' }, undefined), undefined);
    const placed = (body: Record<string, unknown>) =>
      forwarder(false).forNewSandbox('alice', body, undefined);
    assert.equal((await placed({ name: 'warm' }))?.host, 'host-c');
    assert.equal((await placed({ name: 'other', workspace: 'warm' }))?.host, 'host-c');
    assert.equal((await placed({ name: 'cold' }))?.host, 'host-b');
    assert.equal((await placed({ name: 'warm', ephemeral: true }))?.host, 'host-b');
    // A server without a runtime never starts one, even for a request forwarded (or forged) to it.
    await assert.rejects(
      forwarder(false).forNewSandbox('alice', { name: 'x' }, 'host-b'),
      /forwarded by the host host-b reached host-a, which runs no sandbox/,
    );
    await assert.rejects(
      forwarder(false).forSandbox('alice', 'stopped-on-gone', 'host-b', 'start'),
      ForwardLoopError,
    );
    await assert.rejects(
      forwarder(false).forWorkspace('alice', 'loose', 'host-b'),
      ForwardLoopError,
    );
    assert.equal(await forwarder(true).forNewSandbox('alice', { name: 'x' }, 'host-b'), undefined);
    await assert.rejects(placed({ name: 'vm', runtime: 'qemu' }), (error: unknown) => {
      assert.ok(error instanceof NoHostAvailableError);
      assert.match(error.message, /no live host that runs qemu sandboxes/);
      assert.equal(error.code, 'no_host_available');
      return true;
    });
  });

  test('a workspace copy goes where a sandbox uses it, else here, or placed by an API-only server', async () => {
    assert.equal((await forwarder().forWorkspace('alice', 'held', undefined))?.host, 'host-b');
    assert.equal(await forwarder(false).forWorkspace('alice', 'held-here', undefined), undefined);
    assert.equal(await forwarder().forWorkspace('alice', 'loose', undefined), undefined);
    assert.equal((await forwarder(false).forWorkspace('alice', 'warm', undefined))?.host, 'host-c');
    assert.equal(await forwarder().forWorkspace('bob', 'held', undefined), undefined);
    await assert.rejects(forwarder().forWorkspace('alice', 'held', 'host-x'), ForwardLoopError);
  });

  test('a host whose jobs are at their most sends a new sandbox to a host with room', async () => {
    const load = (id: string, runningJobs: number) =>
      repository.heartbeatHost(id, `${id}-server`, {
        heartbeatAt: new Date().toISOString(),
        runningJobs,
        warmWorkspaces: id === 'host-c' ? ['alice.warm'] : [],
      });
    await load('host-a', 4);
    try {
      assert.equal(
        (await forwarder().forNewSandbox('alice', { name: 'x' }, undefined))?.host,
        'host-b',
      );
      assert.equal(
        (await forwarder().forNewSandbox('alice', { name: 'warm' }, undefined))?.host,
        'host-c',
      );
      // Forwarded to it: answered here all the same (never a second hop).
      assert.equal(await forwarder().forNewSandbox('alice', { name: 'x' }, 'host-b'), undefined);
      // Every host full: here, as on one host.
      await load('host-b', 4);
      await load('host-c', 4);
      assert.equal(await forwarder().forNewSandbox('alice', { name: 'x' }, undefined), undefined);
    } finally {
      for (const id of ['host-a', 'host-b', 'host-c']) await load(id, 0);
    }
  });

  test('hostUnavailableReason says gone (with the recorded reason), silent or unaddressed', () => {
    const now = Date.parse('2026-11-30T10:00:00.000Z');
    const at = (iso: string) => ({ heartbeatAt: iso });
    assert.equal(
      hostUnavailableReason(host('h', at('2026-11-30T09:59:59.000Z')), now, hostTimeoutMs),
      undefined,
    );
    assert.equal(
      hostUnavailableReason(host('h', at('2026-11-30T09:59:00.000Z')), now, hostTimeoutMs),
      'no heartbeat for 60 s (since 2026-11-30T09:59:00.000Z)',
    );
    assert.match(
      hostUnavailableReason(
        host('h', { goneAt: '2026-11-30T09:58:00.000Z', goneReason: 'no heartbeat for 15 s' }),
        now,
        hostTimeoutMs,
      ) ?? '',
      /found gone at 2026-11-30T09:58:00.000Z \(no heartbeat for 15 s\)/,
    );
  });

  test('hostUnavailableReason agrees with hostState (placement, GET /v1/hosts) on every case', () => {
    const now = Date.parse('2026-11-30T10:00:00.000Z');
    const cases: Partial<HostRecord>[] = [
      { heartbeatAt: '2026-11-30T09:59:59.000Z' },
      { heartbeatAt: '2026-11-30T09:59:45.000Z' }, // exactly the timeout: still live
      { heartbeatAt: '2026-11-30T09:59:44.999Z' },
      { heartbeatAt: '2026-11-30T10:00:30.000Z' }, // a clock ahead of this one
      { heartbeatAt: 'not a time' },
      { goneAt: '2026-11-30T09:58:00.000Z' },
      { goneAt: '' }, // set, however odd: gone
      { goneAt: '2026-11-30T09:58:00.000Z', heartbeatAt: '2026-11-30T09:59:59.000Z' },
    ];
    for (const fields of cases) {
      const record = host('h', fields);
      const state = hostState(record, now, hostTimeoutMs);
      const reason = hostUnavailableReason(record, now, hostTimeoutMs) ?? 'live';
      const said = reason === 'live' ? 'live' : /found gone/.test(reason) ? 'gone' : 'silent';
      assert.equal(said, state, JSON.stringify(fields));
    }
  });
});
