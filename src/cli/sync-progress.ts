import type { SyncProgress } from '../workspaces/sync/push-workspace.ts';
import { formatBytes } from './output.ts';

/** A progress line on stderr for syncs and restores: redrawn on a terminal, sparse otherwise. */
export function syncProgressReporter(label: string): {
  update: (progress: SyncProgress) => void;
  done: () => void;
} {
  const terminal = process.stderr.isTTY;
  let last = 0;
  let shown = false;
  return {
    update(progress) {
      const now = Date.now();
      if (now - last < (terminal ? 100 : 2000) && progress.files < progress.totalFiles) return;
      last = now;
      shown = true;
      const line = `${label}: ${progress.files}/${progress.totalFiles} files, ${formatBytes(progress.bytes)}/${formatBytes(progress.totalBytes)}`;
      process.stderr.write(terminal ? `\r\x1b[K${line}` : `${line}\n`);
    },
    done() {
      if (terminal && shown) process.stderr.write('\n');
    },
  };
}
