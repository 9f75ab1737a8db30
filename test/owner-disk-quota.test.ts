/**
 * What a client may ask of workspace disks through a server: no disk over `--max-disk` (400), and
 * no owner's workspaces together over `--owner-disk-quota` (409 owner_disk_quota, with a hint on
 * freeing space), counted per owner. Disks of 64-128 MiB, sparse: nothing large is written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InvalidInputError, QuotaExceededError } from '../src/errors/mags-error.ts';
import type { Mags } from '../src/sdk/mags.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping owner disk quota tests: ${skip}\n`);

describe('workspace disk limits of a server', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let bob: Mags;
  before(async () => {
    server = await startTestServer({
      scheduling: { poolSize: 0 },
      disks: { maxDiskMiB: 128, ownerDiskQuotaMiB: 192 },
    });
    alice = (await server.client('alice')).mags;
    bob = (await server.client('bob')).mags;
  });
  after(() => server?.close());

  const make = async (mags: Mags, workspace: string, diskMiB: number) => {
    const { job } = await mags.runAndWait('true', { workspace, limits: { diskMiB } });
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
  };

  test('a disk over the server maximum is a 400 naming the limit', async () => {
    await assert.rejects(
      alice.run('true', { workspace: 'huge', limits: { diskMiB: 64 * 1024 * 1024 } }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInputError, String(error));
        assert.equal(error.statusCode, 400);
        assert.equal(error.code, 'disk_too_large');
        assert.match(error.hint ?? '', /--disk 128M or less/);
        return true;
      },
    );
  });

  test("new and grown disks past the owner's quota are refused; other owners are not charged", async () => {
    await make(alice, 'one', 64);
    await make(alice, 'two', 96);
    const over = (error: unknown) => {
      assert.ok(error instanceof QuotaExceededError, String(error));
      assert.equal(error.statusCode, 409);
      assert.equal(error.code, 'owner_disk_quota');
      assert.match(error.message, /over your quota of 192M/);
      // In the owner's words: their own name, never the server's storage name or a stand-in.
      assert.match(error.message, /^Workspace "(one|three|box)" would take/);
      assert.match(error.hint ?? '', /mags workspace delete NAME/);
      return true;
    };
    // Growing one: 64 + 96 now, 128 + 96 after.
    await assert.rejects(alice.run('true', { workspace: 'one', limits: { diskMiB: 128 } }), over);
    await assert.rejects(alice.run('true', { workspace: 'three', limits: { diskMiB: 64 } }), over);
    await assert.rejects(alice.sandboxes.create({ name: 'box', limits: { diskMiB: 64 } }), over);
    // Within the quota, and an existing workspace without --disk, still run.
    await make(alice, 'three', 32);
    await make(alice, 'one', 64);
    // Bob has his own quota.
    await make(bob, 'one', 128);
    // Deleting frees it.
    await alice.workspaces.delete('two');
    await make(alice, 'four', 96);
  });

  test("two forks at once cannot both pass an owner's quota that has room for one", async () => {
    // Bob: 56 + 56 = 112 of 192; one fork of 56 fits, two do not.
    await bob.workspaces.delete('one');
    await make(bob, 'p', 56);
    await make(bob, 'q', 56);
    const results = await Promise.allSettled([
      bob.workspaces.fork('p', 'p2'),
      bob.workspaces.fork('q', 'q2'),
    ]);
    const made = results.filter((result) => result.status === 'fulfilled');
    const refused = results.flatMap((result) =>
      result.status === 'rejected' ? [result.reason] : [],
    );
    assert.equal(made.length, 1, JSON.stringify(results));
    assert.equal(refused.length, 1);
    assert.ok(refused[0] instanceof QuotaExceededError, String(refused[0]));
    assert.equal(refused[0].code, 'owner_disk_quota');
    const names = (await bob.workspaces.list()).map((workspace) => workspace.name).sort();
    assert.equal(names.filter((name) => name === 'p2' || name === 'q2').length, 1, names.join());
  });
});
