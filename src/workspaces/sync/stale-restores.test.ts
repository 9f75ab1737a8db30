import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stagingName, sweepStaleRestores } from './stale-restores.ts';

test("a killed restore's staging layer and unpacked packs are swept; a live one's are kept", async () => {
  const directory = await mkdtemp(join(tmpdir(), 'mags-sweep-'));
  try {
    // Above any pid_max (2^22): no process has it.
    const dead = 'upper.restoring-99999999-abc';
    const live = stagingName('upper', 'def');
    for (const name of [dead, `${dead}.packs`, live, `${live}.packs`, 'upper', 'work'])
      await mkdir(join(directory, name, 'inside'), { recursive: true });
    await sweepStaleRestores(directory, 'upper');
    assert.deepEqual(
      (await readdir(directory)).sort(),
      [live, `${live}.packs`, 'upper', 'work'].sort(),
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
