/** A downloaded kernel package is unpacked only when its SHA256 is the one in apt's lists. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MagsError } from '../../errors/mags-error.ts';
import { findOnPath, verifyPackageHash } from './debian-kernel-package.ts';

const root = await mkdtemp(join(tmpdir(), 'mags-test-deb-'));
after(() => rm(root, { recursive: true, force: true }));

// Any package in the lists will do: base-files is on every Debian and Ubuntu.
const skip = findOnPath('apt-cache') ? false : 'apt-cache is not installed (not Debian or Ubuntu)';

test('a file whose SHA256 is not the package record one is refused, naming both', {
  skip,
}, async () => {
  const path = join(root, 'base-files.deb');
  await writeFile(path, 'not a package');
  await assert.rejects(verifyPackageHash('base-files', path), (error: unknown) => {
    assert.ok(error instanceof MagsError);
    assert.equal(error.code, 'guest_kernel_download_failed');
    // sha256 of "not a package", and the expected one from the lists.
    assert.match(
      error.message,
      /does not match apt's lists: SHA256 [0-9a-f]{64}, expected [0-9a-f]{64}/,
    );
    return true;
  });
});
