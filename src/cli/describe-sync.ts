import type { PushResult } from '../workspaces/sync/push-workspace.ts';
import { formatBytes } from './output.ts';

export function describeSync(name: string, result: PushResult): string {
  return result.committed
    ? `synced ${name} as version ${result.version} (${formatBytes(result.totalBytes)}; uploaded ${result.uploadedChunks} new chunks, ${formatBytes(result.uploadedBytes)})`
    : `${name} is unchanged since version ${result.version}; nothing to sync`;
}
