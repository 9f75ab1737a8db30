import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { treeProgressReporter } from './tree-progress.ts';

/** Runs `body` with stderr as a terminal or not, capturing what is written to it. */
async function capturing(terminal: boolean, body: () => Promise<void>): Promise<string> {
  const stderr = process.stderr as NodeJS.WriteStream & { isTTY: boolean };
  const [write, isTTY] = [stderr.write, stderr.isTTY];
  let written = '';
  stderr.isTTY = terminal;
  stderr.write = ((chunk: string | Uint8Array) => {
    written += chunk.toString();
    return true;
  }) as typeof stderr.write;
  try {
    await body();
  } finally {
    stderr.write = write;
    stderr.isTTY = isTTY;
  }
  return written;
}

test('on a terminal a long copy redraws one line of entries and bytes, then clears it', async () => {
  const written = await capturing(true, async () => {
    const progress = treeProgressReporter('copy');
    progress.update({ files: 1, bytes: 512 }); // the first half second draws nothing
    await sleep(550);
    progress.update({ files: 3, bytes: 3 * 1024 * 1024 });
    progress.update({ files: 4, bytes: 4 * 1024 * 1024 }); // within 100 ms of the last: skipped
    await sleep(120);
    progress.update({ files: 5, bytes: 5 * 1024 * 1024 });
    progress.done();
  });
  assert.equal(written, '\r\x1b[Kcopy: 3 entries, 3.0 MiB\r\x1b[Kcopy: 5 entries, 5.0 MiB\r\x1b[K');
});

test('without a terminal nothing is drawn (the summary line alone goes to a log)', async () => {
  const written = await capturing(false, async () => {
    const progress = treeProgressReporter('copy');
    await sleep(550);
    progress.update({ files: 3, bytes: 3072 });
    progress.done();
  });
  assert.equal(written, '');
});
