import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** A restore's staging directory (and its `.packs` beside it) names the process making it. */
export function stagingName(prefix: string, suffix: string): string {
  return `${prefix}.restoring-${process.pid}-${suffix}`;
}

/**
 * Removes what restores killed mid-way left in `directory` (their staging layers and unpacked
 * packs: as large as the workspace). One is stale when the process named in it is gone; a live
 * one, this process's or another's restoring the same workspace, is kept.
 */
export async function sweepStaleRestores(directory: string, prefix: string): Promise<void> {
  const pattern = new RegExp(
    `^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.restoring-(\\d+)-`,
  );
  const names = await readdir(directory).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!pid || isAlive(pid)) continue;
    await rm(join(directory, name), { recursive: true, force: true }).catch(() => {});
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
