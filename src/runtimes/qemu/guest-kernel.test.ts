/**
 * The real guest kernel: Debian's package downloaded with apt, its vmlinux extracted and the
 * modules copied. It builds into the host's MAGS_HOME (resolveMagsHome) like `mags image build
 * --runtime qemu`, so the download happens once per machine and every test home reuses it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { resolveMagsHome } from '../../config/mags-home.ts';
import { nativeBinaryPath } from '../../config/package-paths.ts';
import {
  buildGuestKernel,
  findGuestKernel,
  qemuDirectory,
  readBuiltKernel,
} from './guest-kernel.ts';
import { guestModuleOrder } from './initramfs.ts';

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'building the guest kernel needs root';
  if (!existsSync('/etc/debian_version'))
    return 'the guest kernel comes from apt: not a Debian or Ubuntu host';
  for (const tool of ['apt-get', 'dpkg-deb', 'xz', 'cpio']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      return `${tool} is not installed`;
  }
  if (!existsSync(nativeBinaryPath('mags-agent')))
    return `${nativeBinaryPath('mags-agent')} is not built: run npm run build`;
  const depends = spawnSync('apt-cache', ['depends', 'linux-image-amd64']).stdout?.toString() ?? '';
  if (!/Depends: linux-image-/.test(depends))
    return 'apt knows no linux-image-amd64 here (apt-get update)';
  return undefined;
}

const skip = skipReason();
const scratch = await mkdtemp(join(tmpdir(), 'mags-test-kernel-'));
const created: string[] = [];
after(async () => {
  // This test's own init makes an archive nobody else uses: it goes, the kernel stays.
  for (const path of created) await rm(path, { force: true });
  await rm(scratch, { recursive: true, force: true });
});

test('buildGuestKernel: an x86-64 ELF vmlinux, the 12 modules, and an initramfs holding them', {
  skip,
  timeout: 10 * 60_000,
}, async () => {
  const home = resolveMagsHome();
  const initPath = join(scratch, 'init');
  await writeFile(initPath, `a test init ${process.pid}\n`);
  const agentPath = nativeBinaryPath('mags-agent');
  const steps: string[] = [];
  const kernel = await buildGuestKernel({
    home,
    initPath,
    agentPath,
    onProgress: (progress) => steps.push(progress.step),
  });
  created.push(kernel.initramfsPath);
  assert.match(kernel.release, /^\d+\.\d+\.\d+-\d+-amd64$/);
  assert.equal(
    kernel.vmlinuxPath,
    join(qemuDirectory(home), `kernel-${kernel.release}`, 'vmlinux'),
  );
  // ELF header: magic, 64-bit class, e_machine x86-64 (0x3e) at offset 18.
  const header = Buffer.alloc(20);
  const file = await open(kernel.vmlinuxPath);
  await file.read(header, 0, 20, 0);
  await file.close();
  assert.equal(header.subarray(0, 4).toString('latin1'), '\x7fELF');
  assert.equal(header[4], 2);
  assert.equal(header.readUInt16LE(18), 0x3e);
  const info = await readBuiltKernel(home);
  assert.equal(info?.release, kernel.release);
  assert.deepEqual(info?.modules, [...guestModuleOrder]);
  const modules = join(qemuDirectory(home), `kernel-${kernel.release}`, 'modules');
  for (const name of guestModuleOrder) {
    // An uncompressed module is an ELF relocatable file.
    assert.equal(
      (await readFile(join(modules, `${name}.ko`))).subarray(0, 4).toString('latin1'),
      '\x7fELF',
    );
  }
  const listing = execFileSync('cpio', ['-t', '--quiet'], {
    input: gunzipSync(await readFile(kernel.initramfsPath)),
  }).toString();
  for (const name of guestModuleOrder)
    assert.match(listing, new RegExp(`^modules/${name}\\.ko$`, 'm'));
  assert.ok(steps.includes('initramfs'));

  // Built once: the next call (and findGuestKernel) reuses it without a download.
  const again = await buildGuestKernel({
    home,
    initPath,
    agentPath,
    onProgress: (progress) => steps.push(progress.step),
  });
  assert.deepEqual(again, kernel);
  assert.equal(steps.filter((step) => step.startsWith('downloading')).length <= 1, true);
  assert.deepEqual(await findGuestKernel({ home, initPath, agentPath }), kernel);
});

test('findGuestKernel says undefined for a home where no kernel was built', async () => {
  const home = join(scratch, 'empty-home');
  assert.equal(
    await findGuestKernel({ home, initPath: '/nonexistent', agentPath: '/nonexistent' }),
    undefined,
  );
});
