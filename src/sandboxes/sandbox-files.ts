import { InvalidInputError } from '../errors/mags-error.ts';
import type { FileRead } from '../runtimes/runtime.ts';
import type { SandboxUse } from './sandbox-use.ts';

export interface WriteFileRequest {
  /** Absolute path inside the sandbox. */
  path: string;
  /**
   * The bytes, stepped with `next()` only and never ended early (`return()`): the caller can
   * still drain the rest of a refused upload from it.
   */
  data: AsyncIterator<Buffer>;
  /** Permission bits of the new file (default 0644). */
  mode?: number;
  /** An upload over this many bytes is refused (413 `too_large`). */
  maxBytes: number;
  /** The length the client announced, when it did: over `maxBytes`, refused before any byte. */
  declaredBytes?: number;
}

export interface ReadFileRequest {
  path: string;
  /** A file over this many bytes is refused before any byte is read (413). */
  maxBytes: number;
}

/** Refuses an upload whose announced length is over the limit (413 `too_large`). */
export function refuseDeclaredUpload(request: WriteFileRequest): void {
  if (request.declaredBytes !== undefined && request.declaredBytes > request.maxBytes) {
    throw uploadTooLarge(request.maxBytes);
  }
}

/**
 * Writes the file, counting its bytes as they stream (a chunked upload declares no length): one
 * over `maxBytes` is aborted inside the sandbox, leaving nothing behind, and refused with 413
 * `too_large` whatever the runtime made of the aborted source. The hold ends with the write.
 */
export async function writeSandboxFile(use: SandboxUse, request: WriteFileRequest): Promise<void> {
  const { maxBytes } = request;
  let tooLarge = false;
  async function* limited(): AsyncGenerator<Buffer> {
    let total = 0;
    for (let next = await request.data.next(); !next.done; next = await request.data.next()) {
      total += next.value.length;
      if (total > maxBytes) {
        tooLarge = true;
        throw uploadTooLarge(maxBytes);
      }
      yield next.value;
    }
  }
  try {
    await use.sandbox.writeFile(request.path, limited(), { mode: request.mode });
  } catch (error) {
    throw tooLarge ? uploadTooLarge(maxBytes) : error;
  } finally {
    use.release();
  }
}

/**
 * Opens the file for streaming. Refusals (too large, missing, not a regular file) come before
 * any byte. Every way out of the read (end, error, destroy) closes the stream, which ends the
 * read inside the sandbox (freeing its file slot) and releases the hold: no sleeping in the
 * middle of a download.
 */
export async function readSandboxFile(
  use: SandboxUse,
  request: ReadFileRequest,
): Promise<FileRead> {
  let file: FileRead;
  try {
    file = await use.sandbox.readFileStream(request.path, { maxBytes: request.maxBytes });
  } catch (error) {
    use.release();
    throw error;
  }
  file.stream.once('close', use.release);
  return file;
}

/** Whether `error` is the refusal of an upload over the limit (its caller may drain the rest). */
export function isUploadTooLarge(error: unknown): boolean {
  return error instanceof InvalidInputError && error.code === 'too_large';
}

export function uploadTooLarge(maxBytes: number): InvalidInputError {
  return new InvalidInputError(`Upload over the ${maxBytes}-byte limit.`, {
    code: 'too_large',
    statusCode: 413,
    hint: 'Put large data in the workspace once (it persists) instead of uploading it each time.',
  });
}
