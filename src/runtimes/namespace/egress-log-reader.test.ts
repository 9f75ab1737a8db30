import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EgressLogReader } from './egress-log-reader.ts';

test('reads overlapping in time return each line once (two exec jobs polling one log)', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'mags-test-egress-log-'));
  try {
    const path = join(directory, 'egress-blocked.log');
    const reader = new EgressLogReader(path, 0);
    assert.deepEqual(await reader.read(), [], 'no log yet');
    const lines = Array.from(
      { length: 50 },
      (_, i) => `mags: egress blocked: connection to 203.0.113.${i}:443`,
    );
    const reads: Promise<string[]>[] = [];
    for (const line of lines) {
      await appendFile(path, `${line}\n`);
      reads.push(reader.read(), reader.read());
    }
    // A line still being written (no newline yet) waits for the next read.
    await appendFile(path, 'mags: egress blocked: conn');
    reads.push(reader.read());
    assert.deepEqual((await Promise.all(reads)).flat(), lines);
    await appendFile(path, 'ection to 198.51.100.1:80\n');
    assert.deepEqual(await reader.read(), ['mags: egress blocked: connection to 198.51.100.1:80']);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('a reader from an offset skips what was reported before it', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'mags-test-egress-log-'));
  try {
    const path = join(directory, 'egress-blocked.log');
    await appendFile(path, 'mags: egress blocked: old\n');
    const reader = new EgressLogReader(path, Buffer.byteLength('mags: egress blocked: old\n'));
    await appendFile(path, 'mags: egress blocked: new\n');
    assert.deepEqual(await reader.read(), ['mags: egress blocked: new']);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
