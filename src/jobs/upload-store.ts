import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomId } from '../config/random-id.ts';
import { InvalidInputError, NotFoundError, QuotaExceededError } from '../errors/mags-error.ts';

export interface UploadStoreOptions {
  /** Where staged files wait, one directory per owner (`$MAGS_HOME/uploads`). */
  directory: string;
  /** The largest file (default 1 GiB, like the sandbox file upload). */
  maxFileBytes?: number;
  /** Files one owner may have staged at once (default 64). */
  maxFilesPerOwner?: number;
  /** Bytes one owner may have staged at once (default 4 GiB). */
  maxBytesPerOwner?: number;
  /** A staged file no job took within this time is removed (default 1 hour). */
  maxAgeMs?: number;
}

/** What `receive` makes: `upl_` and 16 base64url characters (the API's UploadIdSchema). */
const uploadIdPattern = /^upl_[A-Za-z0-9_-]{1,40}$/;

/**
 * Files a client uploads for its next run (`mags run -f`, the SDK's `files`): streamed to disk
 * as they arrive (never held in memory), then taken by the job that names them, which writes
 * them into its /workspace and removes them. The files on disk are the whole state, so the
 * limits hold across server restarts.
 */
export class UploadStore {
  readonly #directory: string;
  readonly maxFileBytes: number;
  readonly #maxFiles: number;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;

  constructor(options: UploadStoreOptions) {
    this.#directory = options.directory;
    this.maxFileBytes = options.maxFileBytes ?? 1024 ** 3;
    this.#maxFiles = options.maxFilesPerOwner ?? 64;
    this.#maxBytes = options.maxBytesPerOwner ?? 4 * 1024 ** 3;
    this.#maxAgeMs = options.maxAgeMs ?? 60 * 60 * 1000;
  }

  /**
   * Stores one upload, counted as it streams (a chunked body declares no length); over a limit
   * it is refused and nothing stays behind. `declaredBytes` refuses a too-large one up front.
   */
  async receive(
    owner: string,
    body: AsyncIterable<Uint8Array>,
    declaredBytes?: number,
  ): Promise<{ id: string; sizeBytes: number }> {
    if (declaredBytes !== undefined && declaredBytes > this.maxFileBytes) {
      throw this.#tooLarge();
    }
    const directory = join(this.#directory, owner);
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const staged = await this.#sweep(directory);
    if (staged.count >= this.#maxFiles) {
      throw new QuotaExceededError(
        `${staged.count} uploads are waiting for a run: at most ${this.#maxFiles} may.`,
        {
          code: 'upload_quota',
          hint: 'Start the runs that take them (uploads unused for an hour are removed).',
        },
      );
    }
    const room = Math.min(this.maxFileBytes, this.#maxBytes - staged.bytes);
    const id = randomId('upl_');
    const path = join(directory, id);
    let sizeBytes = 0;
    const limit = this.maxFileBytes;
    const tooLarge = () => this.#tooLarge();
    const ownerQuota = () =>
      new QuotaExceededError(
        `The uploads waiting for a run would be over ${this.#maxBytes} bytes.`,
        { code: 'upload_quota', hint: 'Start the runs that take them first.' },
      );
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        sizeBytes += chunk.length;
        if (sizeBytes > room) throw sizeBytes > limit ? tooLarge() : ownerQuota();
        yield chunk;
      }
    }
    try {
      await pipeline(counted(), createWriteStream(path, { mode: 0o600 }));
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    return { id, sizeBytes };
  }

  /** The staged files' paths, for a job about to start; an unknown id is a 404. */
  async resolve(owner: string, ids: string[]): Promise<string[]> {
    const paths: string[] = [];
    for (const id of ids) {
      const path = this.#path(owner, id);
      const stats = await stat(path).catch(() => undefined);
      if (!stats?.isFile()) {
        throw new NotFoundError(`No upload ${JSON.stringify(id)}.`, {
          code: 'upload_not_found',
          hint: 'Upload the file again (POST /v1/uploads): an upload serves one run, and one unused for an hour is removed.',
        });
      }
      paths.push(path);
    }
    return paths;
  }

  /** Removes staged files (a job took them, or could not). */
  async remove(owner: string, ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => rm(this.#path(owner, id), { force: true })));
  }

  /** Where an upload is; an id that is not one this store made names no file (no `../`). */
  #path(owner: string, id: string): string {
    if (!uploadIdPattern.test(id) || owner.includes('/') || owner.startsWith('.')) {
      throw new InvalidInputError(`${JSON.stringify(id)} is not an upload id.`, {
        code: 'invalid_upload',
        hint: 'Use the id POST /v1/uploads returned (upl_...).',
      });
    }
    return join(this.#directory, owner, id);
  }

  /** What the owner has staged, after removing what has waited too long. */
  async #sweep(directory: string): Promise<{ count: number; bytes: number }> {
    let count = 0;
    let bytes = 0;
    const oldest = Date.now() - this.#maxAgeMs;
    for (const name of await readdir(directory)) {
      const path = join(directory, name);
      const stats = await stat(path).catch(() => undefined);
      if (!stats) continue;
      if (stats.mtimeMs < oldest) {
        await rm(path, { force: true });
        continue;
      }
      count += 1;
      bytes += stats.size;
    }
    return { count, bytes };
  }

  #tooLarge(): InvalidInputError {
    return new InvalidInputError(`Upload over the ${this.maxFileBytes}-byte limit.`, {
      code: 'too_large',
      statusCode: 413,
      hint: 'Put large data in the workspace once (it persists with -w) instead of uploading it every run.',
    });
  }
}
