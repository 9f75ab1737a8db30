import { formatBytes } from '../../config/byte-sizes.ts';
import type { PushResult } from './push-workspace.ts';

/** One line on what a sync did: the sync command's output, and a persistent run's message. */
export function describeSync(name: string, result: PushResult): string {
  return result.committed
    ? `synced ${name} as version ${result.version} (${formatBytes(result.totalBytes)}; uploaded ${result.uploadedChunks} new chunks, ${formatBytes(result.uploadedBytes)})`
    : `${name} is unchanged since version ${result.version}; nothing to sync`;
}
