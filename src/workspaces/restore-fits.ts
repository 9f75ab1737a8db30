import { formatBytes, formatMiB } from '../config/byte-sizes.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { WorkspaceStore } from './workspace-store.ts';

/**
 * A stored version larger than the workspace's disk is refused before anything is downloaded
 * (its size is in the manifest). One that fits alone but not beside the layer it replaces fails
 * with ENOSPC during the restore: `diskFullError` says so.
 */
export async function checkFits(
  workspaces: WorkspaceStore,
  name: string,
  version: number,
  totalBytes: number,
): Promise<void> {
  const usage = await workspaces.diskUsage(name);
  if (!usage || totalBytes <= usage.sizeBytes) return;
  throw new InvalidInputError(
    `Version ${version} of workspace ${JSON.stringify(name)} holds ${formatBytes(totalBytes)}, more than its ${formatMiB(usage.diskMiB)} disk.`,
    {
      workspace: name,
      code: 'disk_too_small',
      hint: `Restore it onto a larger disk: mags workspace pull ${name} --disk ${suggestedMiB(totalBytes)}`,
    },
  );
}

export function diskFullError(
  name: string,
  version: number,
  totalBytes: number,
  diskMiB: number | undefined,
  cause: unknown,
): InvalidInputError {
  const disk = diskMiB === undefined ? 'its disk' : `its ${formatMiB(diskMiB)} disk`;
  return new InvalidInputError(
    `Restoring version ${version} of workspace ${JSON.stringify(name)} (${formatBytes(totalBytes)}) filled ${disk}: the local layer is unchanged.`,
    {
      workspace: name,
      code: 'disk_full',
      cause,
      hint: `The new version must fit beside the current one until it replaces it: mags workspace pull ${name} --disk ${suggestedMiB(2 * totalBytes)}, or delete the local copy (mags workspace delete ${name} --local-only) and pull again.`,
    },
  );
}

/** A `--disk` value with room to spare: a quarter more than `bytes`, in whole GiB above 1 GiB. */
function suggestedMiB(bytes: number): string {
  const mebibytes = Math.ceil((bytes * 1.25) / 1024 / 1024);
  return mebibytes > 1024 ? `${Math.ceil(mebibytes / 1024)}G` : `${Math.max(mebibytes, 64)}M`;
}
