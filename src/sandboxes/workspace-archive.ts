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

/** Packs `path` of a workspace as a tar stream; its sandbox is released when the stream closes. */
export async function packArchiveFromWorkspace(
  context: MagsContext,
  options: Omit<WorkspaceCopyOptions, 'mustExist'>,
  path: string,
): Promise<Readable> {
  const copy = await openWorkspaceCopySandbox(context, { ...options, mustExist: true });
  let stream: Readable;
  try {
    stream = await packArchiveInSandbox(copy.sandbox, path);
  } catch (error) {
    await copy.release();
    throw error;
  }
  stream.once('close', () => void copy.release().catch(() => {}));
  return stream;
}
