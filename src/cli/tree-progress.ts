import type { TreeProgress } from '../sdk/mags.ts';
import { formatBytes } from './output.ts';

/**
 * A progress line on stderr for `mags cp` (like the sync progress): entries and bytes so far,
 * redrawn at most every 100 ms, only when stderr is a terminal (a log gets the summary alone).
 * A copy shorter than half a second draws nothing.
 */
export function treeProgressReporter(label: string): {
  update: (progress: TreeProgress) => void;
  done: () => void;
} {
  const terminal = process.stderr.isTTY;
  const startedAt = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(progress) {
      if (!terminal) return;
      const now = Date.now();
      if (now - startedAt < 500 || now - last < 100) return;
      last = now;
      shown = true;
      process.stderr.write(
        `\r\x1b[K${label}: ${progress.files} entries, ${formatBytes(progress.bytes)}`,
      );
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
