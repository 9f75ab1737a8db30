import type { Readable } from 'node:stream';
import type { MagsContext } from '../context/mags-context.ts';
import {
  type ExtractArchiveRequest,
  extractArchiveInSandbox,
  packArchiveInSandbox,
} from './sandbox-archive.ts';
import { uploadTooLarge } from './sandbox-files.ts';
import { openWorkspaceCopySandbox, type WorkspaceCopyOptions } from './workspace-copy-sandbox.ts';

/**
 * Extracts a tar stream into a workspace that no long-lived sandbox runs on, through a sandbox
 * started (or taken parked) for the copy: the same code path for a server's
 * `PUT /v1/workspaces/{name}/archive` and the CLI's in-process `mags cp`.
 */
export async function extractArchiveInWorkspace(
  context: MagsContext,
  options: Omit<WorkspaceCopyOptions, 'mustExist'>,
  request: ExtractArchiveRequest,
): Promise<void> {
  // Refused before a sandbox is started for it.
  if (request.declaredBytes !== undefined && request.declaredBytes > request.maxBytes) {
    throw uploadTooLarge(request.maxBytes);
  }
  const copy = await openWorkspaceCopySandbox(context, { ...options, mustExist: false });
  try {
    await extractArchiveInSandbox(copy.sandbox, request);
  } finally {
    await copy.release();
  }
}

/**
 * Packs `path` of a workspace as a tar stream. Its sandbox is released (parked or stopped) when
 * the stream closes; `released` settles once that is done (a CLI process waits for it).
 */
export async function packArchiveFromWorkspace(
  context: MagsContext,
  options: Omit<WorkspaceCopyOptions, 'mustExist'>,
  path: string,
): Promise<{ stream: Readable; released: Promise<void> }> {
  const copy = await openWorkspaceCopySandbox(context, { ...options, mustExist: true });
  let stream: Readable;
  try {
    stream = await packArchiveInSandbox(copy.sandbox, path);
  } catch (error) {
    await copy.release();
    throw error;
  }
  const released = new Promise<void>((resolve) => {
    stream.once(
      'close',
      () =>
        void copy
          .release()
          .catch(() => {})
          .then(resolve),
    );
  });
  return { stream, released };
}
