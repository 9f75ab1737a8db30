/**
 * Finding 2 of issue 10: a token for owner `local` named `{"base": "alice.aws"}` and printed
 * alice's secret. Owner `local` is now reserved for the host's own server (admin), a `local`
 * token made before that is refused, and no other owner name can reach another's storage.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuthenticationError, type Mags, Mags as MagsClient } from '../src/sdk/index.ts';
import {
  createLocalServerToken,
  createToken,
  hashToken,
  revokeStaleLocalServerTokens,
} from '../src/server/tokens.ts';
import { isValidOwner, localOwner, ownerWorkspaceName } from '../src/workspaces/owner-workspace.ts';
import { runCli, sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

/** Every shape of owner name that could be mistaken for, or build, another owner's prefix. */
const collidingOwners = [
  localOwner,
  'LOCAL',
  'Local',
  'alice.aws',
  'alice.',
  '.alice',
  'alice..aws',
  'a/b',
  '..',
  '',
  '-alice',
  'alice-',
  'alice aws',
  'alice\u0000',
  'ａlice', // a full-width lookalike
  'a'.repeat(33),
];

test('token creation refuses the reserved and every colliding owner name', async () => {
  const { createSqliteStateRepository } = await import(
    '../src/state/sqlite/sqlite-state-repository.ts'
  );
  const repository = createSqliteStateRepository(':memory:');
  try {
    for (const owner of collidingOwners) {
      await assert.rejects(createToken(repository, owner, 'x'), /reserved|Invalid owner/, owner);
      await assert.rejects(createToken(repository, owner, 'x', { admin: true }), Error, owner);
    }
    assert.deepEqual(await repository.listTokens(), []);
    // The host's own server gets its `local` token only through its own path, and as admin.
    const { record } = await createLocalServerToken(repository, 'local-server-1');
    assert.equal(record.owner, localOwner);
    assert.equal(record.admin, true);
    // A local server that died left its token: the next one revokes it, not a live server's.
    const { record: running } = await createLocalServerToken(repository, 'local-server-2');
    const revoked = await revokeStaleLocalServerTokens(repository, (pid) => pid === 2);
    assert.equal(revoked, 1);
    const live = (await repository.listTokens(localOwner)).filter((token) => !token.revokedAt);
    assert.deepEqual(
      live.map((token) => token.id),
      [running.id],
    );
  } finally {
    await repository.close();
  }
});

test('owners other than local never share a storage name (owners have no ".")', () => {
  const owners = ['a', 'ab', 'a-b', 'b', 'alice', 'al', 'ice', '1', 'a1'];
  const names = ['b', 'ab', 'b.c', 'a.b', 'ice', 'ice.x', 'alice.aws', 'x', '1.a'];
  const seen = new Map<string, string>();
  for (const owner of owners) {
    assert.ok(isValidOwner(owner));
    for (const name of names) {
      const storage = ownerWorkspaceName(owner, name);
      const other = seen.get(storage);
      assert.equal(other, undefined, `${owner}/${name} and ${other} both map to ${storage}`);
      seen.set(storage, `${owner}/${name}`);
    }
  }
});

test('mags token create --owner local is refused with a hint', async () => {
  const { createTestHome } = await import('./helpers/test-home.ts');
  const home = await createTestHome();
  try {
    const result = await runCli(home.home, ['token', 'create', '--owner', 'local']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /reserved/);
    assert.match(result.stderr, /hint: .*--owner alice/);
    assert.equal(result.stdout.length, 0);
  } finally {
    await home.cleanup();
  }
});

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the cross-owner attack: ${skip}\n`);

describe('the cross-owner attack of issue 10', { skip }, () => {
  let server: TestServer;
  let alice: { mags: Mags };
  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    alice = await server.client('alice');
    const written = await alice.mags.runAndWait('echo alice-secret > /workspace/secret', {
      workspace: 'aws',
    });
    assert.equal(written.exitCode, 0);
  });
  after(() => server.close());

  test('a local token made before the fix is 401 and never reads alice.aws', async () => {
    // What `mags token create --owner local` stored before the fix: owner local, not admin.
    const secret = `mags_${'L'.repeat(32)}`;
    await server.server.services.repository.insertToken({
      id: 'tok_oldlocal',
      owner: localOwner,
      name: 'default',
      hash: hashToken(secret),
      createdAt: new Date().toISOString(),
      revokedAt: null,
      admin: false,
    });
    const response = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'cat /workspace/secret', base: 'alice.aws' }),
    });
    assert.equal(response.status, 401);
    const body = await response.text();
    assert.doesNotMatch(body, /alice-secret/);
    assert.match(body, /mags token revoke tok_oldlocal/);
    const mags = new MagsClient({ url: server.url, token: secret });
    await assert.rejects(mags.whoami(), AuthenticationError);
    const jobs = await alice.mags.jobs.list({ limit: 10 });
    assert.equal(jobs.jobs.length, 1, 'nothing ran for the refused token');
  });

  test('another owner, admin or not, naming alice.aws gets its own (missing) workspace', async () => {
    for (const admin of [false, true]) {
      const { mags } = await server.client(admin ? 'mallory-admin' : 'mallory', { admin });
      const run = await mags.runAndWait('cat /workspace/secret', { base: 'alice.aws' });
      assert.equal(run.job.status, 'failed');
      assert.match(run.job.reason ?? '', /does not exist/);
      assert.doesNotMatch(run.stdout + run.stderr, /alice-secret/);
    }
  });

  test('/v1/pool shows an owner only its own figures; the host-wide ones need an admin token', async () => {
    const bob = await server.client('bob');
    const admin = await server.client('ops', { admin: true });
    await alice.mags.sandboxes.create({ name: 'dev', ephemeral: true });
    try {
      const alices = await alice.mags.pool();
      assert.equal(alices.host, null);
      assert.equal(alices.owner.name, 'alice');
      assert.equal(alices.owner.parked, 1, "alice's aws sandbox is parked");
      assert.equal(alices.owner.sandboxes.running, 1);
      assert.equal(alices.owner.sandboxes.max, 16);
      assert.equal(alices.owner.jobs.maxRunning, 8);
      const bobs = await bob.mags.pool();
      assert.equal(bobs.host, null);
      assert.deepEqual(
        { parked: bobs.owner.parked, sandboxes: bobs.owner.sandboxes.running },
        { parked: 0, sandboxes: 0 },
      );
      const { formatPoolStatus } = await import('../src/cli/commands/pool.ts');
      assert.doesNotMatch(formatPoolStatus(bobs), /warm cache|pool +\d/);
      const host = await admin.mags.pool();
      assert.equal(host.owner.parked, 0);
      assert.ok(host.host, 'an admin sees the host');
      assert.equal(host.host.warm.parked, 1);
      assert.equal(host.host.busy, 1);
      assert.match(formatPoolStatus(host), /warm cache +1\/256 parked/);
      // The metrics endpoint (no token) is host-wide counts only: no owner or workspace names.
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.doesNotMatch(metrics, /alice|aws|dev"/);
    } finally {
      await alice.mags.sandboxes.delete('dev');
    }
  });
});
