import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RootFilesystem } from '../runtime.ts';

/** Where a fake sandbox's `/workspace` is on the host, and what to do when it stops. */
export interface FakeLayer {
  directory: string;
  release(): Promise<void>;
}

/**
 * The fake runtime's layer provider: it has no root filesystem of its own (commands see the
 * host's), only a directory standing for `/workspace`. It treats the spec's layers as opaque
 * places, and never mounts anything:
 * - a writable layer: `/workspace` is `workspace/` inside it, where an overlay would put what a
 *   command writes to `/workspace`, so the caller finds the files where a real run leaves them;
 * - a read-only layer above the image (a base workspace, a stored version): a throw-away copy of
 *   its `workspace/`;
 * - neither: an empty throw-away directory.
 * Under runtime-v2 the keys become workspace references (a directory per workspace name).
 */
export async function acquireFakeLayer(rootfs: RootFilesystem): Promise<FakeLayer> {
  if (rootfs.writable) {
    const directory = join(rootfs.writable.upperDir, 'workspace');
    await mkdir(directory, { recursive: true });
    return { directory, release: async () => {} };
  }
  const scratch = await mkdtemp(join(tmpdir(), 'mags-fake-sandbox-'));
  const release = () => rm(scratch, { recursive: true, force: true });
  // The lowest layer is the image: only layers above it hold a workspace.
  const readOnly = rootfs.lowerDirs.length > 1 ? rootfs.lowerDirs[0] : undefined;
  if (readOnly !== undefined) {
    await cp(join(readOnly, 'workspace'), scratch, { recursive: true }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error; // a layer nothing was written to /workspace in
      },
    );
  }
  return { directory: scratch, release };
}
