/** extract-vmlinux on bzImage-like buffers: a real xz stream after a prefix, and none at all. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { extractVmlinux } from './extract-vmlinux.ts';

const xzMissing =
  spawnSync('xz', ['--version']).status === 0
    ? undefined
    : 'xz is not installed (apt-get install xz-utils)';

function xz(data: Buffer): Buffer {
  return execFileSync('xz', ['-c', '--check=crc32'], { input: data });
}

test('finds the xz payload behind a prefix and returns the ELF inside, ignoring what follows', async (t) => {
  if (xzMissing) return t.skip(xzMissing);
  const elf = Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), randomBytes(100_000)]);
  // A bzImage: setup code and decompressor, the payload, then trailing data (the size field).
  const prefix = randomBytes(20_000).map((byte) => (byte === 0xfd ? 0 : byte));
  const image = Buffer.concat([prefix, xz(elf), randomBytes(64)]);
  assert.deepEqual(await extractVmlinux(image), elf);
});

test('skips a stray magic before the real payload', async (t) => {
  if (xzMissing) return t.skip(xzMissing);
  const elf = Buffer.concat([Buffer.from('\x7fELF', 'latin1'), randomBytes(1000)]);
  const stray = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3, 4]);
  assert.deepEqual(await extractVmlinux(Buffer.concat([stray, xz(elf)])), elf);
});

test('a buffer without an xz payload is refused with a clear error', async () => {
  await assert.rejects(extractVmlinux(Buffer.alloc(50_000, 1)), /holds no XZ-compressed payload/);
});

test('an xz payload that is not an ELF file is refused', async (t) => {
  if (xzMissing) return t.skip(xzMissing);
  await assert.rejects(
    extractVmlinux(Buffer.concat([randomBytes(100).fill(0), xz(Buffer.from('not a kernel'))])),
    /Could not extract vmlinux .*not an ELF file/,
  );
});
