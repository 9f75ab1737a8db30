import { formatBytes } from '../../config/byte-sizes.ts';
import type { PushResult } from './push-workspace.ts';

/** One line on what a sync did: the sync command's output, and a persistent run's message. */
export function describeSync(
  name: string,
  result: Omit<PushResult, 'uploadedPacks'> & { uploadedPacks?: number },
): string {
  const objects =
    result.uploadedPacks === undefined
      ? `${result.uploadedChunks} new chunks`
      : `${result.uploadedPacks} new packs and ${result.uploadedChunks} new chunks`;
  return result.committed
    ? `synced ${name} as version ${result.version} (${formatBytes(result.totalBytes)}; uploaded ${objects}, ${formatBytes(result.uploadedBytes)})`
    : `${name} is unchanged since version ${result.version}; nothing to sync`;
}
