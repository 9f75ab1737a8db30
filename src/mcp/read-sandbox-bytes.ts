import { bodyChunks } from '../sdk/body-chunks.ts';
import type { Mags } from '../sdk/mags.ts';

export interface SandboxBytes {
  /** The file's size (from the response, before any byte). */
  sizeBytes: number;
  /** The first bytes of the file, at most the asked limit. */
  bytes: Uint8Array;
  /** The file has more bytes than `bytes`. */
  truncated: boolean;
}

/**
 * The first `maxBytes` of a sandbox file: the read stops (inside the sandbox too) once they are
 * in, so a large file costs no more than the limit.
 */
export async function readSandboxBytes(
  client: Mags,
  sandbox: string,
  path: string,
  maxBytes: number,
  /** Aborting it (the tool call cancelled) ends the read, inside the sandbox too. */
  signal?: AbortSignal,
): Promise<SandboxBytes> {
  const { sizeBytes, body } = await client.sandboxes.files.stream(sandbox, path, { signal });
  const chunks: Uint8Array[] = [];
  let length = 0;
  // Leaving the loop early cancels the stream (bodyChunks releases the reader).
  for await (const chunk of bodyChunks(body)) {
    chunks.push(chunk);
    length += chunk.length;
    if (length > maxBytes) break;
  }
  const bytes = Buffer.concat(chunks, length).subarray(0, maxBytes);
  return { sizeBytes, bytes, truncated: length > maxBytes || sizeBytes > bytes.length };
}
