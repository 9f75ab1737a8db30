import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MagsError } from '../../errors/mags-error.ts';
import { serverClusterOptions } from './server-cluster-flags.ts';

const postgres = 'postgres://mags@db.internal/mags';

/** The error `call` throws, which must be a MagsError with a hint. */
function refusal(call: () => unknown): MagsError {
  try {
    call();
  } catch (error) {
    assert.ok(error instanceof MagsError, String(error));
    assert.ok(error.hint, 'it says what to do');
    return error;
  }
  assert.fail('not refused');
}

test('on shared state the server joins the cluster, with its flags in milliseconds', () => {
  assert.deepEqual(
    serverClusterOptions(
      {
        apiOnly: true,
        hostId: 'node-1',
        advertise: 'http://10.0.0.5:7070/',
        heartbeat: '0.5',
        hostTimeout: '3',
      },
      postgres,
    ),
    {
      hostId: 'node-1',
      cluster: {
        apiOnly: true,
        advertise: 'http://10.0.0.5:7070',
        heartbeatMs: 500,
        hostTimeoutMs: 3000,
      },
    },
  );
});

test("on a host's own SQLite state there is no cluster, but the host id still names the host", () => {
  assert.deepEqual(serverClusterOptions({ hostId: 'node-1', heartbeat: '2' }, undefined), {
    hostId: 'node-1',
  });
  assert.deepEqual(serverClusterOptions({}, '/var/lib/mags/state.db'), {});
});

test('bad flags are refused with what to do, before anything starts', () => {
  const apiOnly = refusal(() => serverClusterOptions({ apiOnly: true }, undefined));
  assert.equal(apiOnly.code, 'api_only_needs_shared_state');
  assert.match(apiOnly.hint ?? '', /--state postgres:\/\//);
  refusal(() => serverClusterOptions({ apiOnly: true }, '/tmp/state.db'));
  assert.match(
    refusal(() => serverClusterOptions({ hostId: 'no spaces' }, postgres)).message,
    /Invalid --host-id "no spaces"/,
  );
  assert.match(
    refusal(() => serverClusterOptions({ heartbeat: '2', hostTimeout: '3' }, postgres)).message,
    /less than two heartbeats/,
  );
  assert.match(
    refusal(() => serverClusterOptions({ advertise: 'ftp://x/y' }, postgres)).message,
    /Invalid --advertise/,
  );
  assert.throws(() => serverClusterOptions({ heartbeat: '0' }, postgres), /--heartbeat/);
  for (const bad of [
    'http://10.0.0.5:7070/mags',
    'http://10.0.0.5:7070?x=1',
    'http://10.0.0.5:7070/#top',
    'http://user:secret@10.0.0.5:7070',
    'ws://10.0.0.5:7070',
    '10.0.0.5:7070',
  ]) {
    const refused = refusal(() => serverClusterOptions({ advertise: bad }, postgres));
    assert.equal(refused.code, 'invalid_advertise', bad);
  }
  assert.equal(
    serverClusterOptions({ advertise: 'https://node-1.example:8443' }, postgres).cluster?.advertise,
    'https://node-1.example:8443',
  );
});

test('a host listening on every address must say where it is reached (--advertise)', () => {
  for (const listenHost of ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']) {
    const refused = refusal(() => serverClusterOptions({}, postgres, listenHost));
    assert.equal(refused.code, 'advertise_needed', listenHost);
    assert.match(refused.hint ?? '', /--advertise http/);
  }
  // Given --advertise, an API-only server (never forwarded to), or no shared state: it starts.
  assert.equal(
    serverClusterOptions({ advertise: 'http://10.0.0.5:7070' }, postgres, '0.0.0.0').cluster
      ?.advertise,
    'http://10.0.0.5:7070',
  );
  assert.ok(serverClusterOptions({ apiOnly: true }, postgres, '0.0.0.0').cluster);
  assert.deepEqual(serverClusterOptions({}, undefined, '0.0.0.0'), {});
  // Loopback is reachable from this machine's servers: allowed (the server logs that).
  assert.ok(serverClusterOptions({}, postgres, '127.0.0.1').cluster);
});
