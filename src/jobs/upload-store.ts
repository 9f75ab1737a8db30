import { createWriteStream } from 'node:fs';
import { link, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { defaultMaxUploadBytes, uploadIdPattern } from '../api/uploads.ts';
import { randomId } from '../config/random-id.ts';
import { InvalidInputError, NotFoundError, QuotaExceededError } from '../errors/mags-error.ts';
import { type OwnerLedger, UploadLedger } from './upload-ledger.ts';

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

/** An upload a job took (`claim`): the file it reads, and whether it is the store's to remove. */
export interface ClaimedUpload {
  id: string;
  path: string;
  sizeBytes: number;
  /** False for a host file staged in place (`stageLocal` without a link): the user's own. */
  removable: boolean;
}

/** Files jobs took, under each owner's directory; no upload id can name it. */
const claimedDirectory = 'claimed';
/** A claimed file whose job never removed it (its server process died) goes after this. */
const claimedMaxAgeMs = 24 * 60 * 60 * 1000;

/**
 * Files a client uploads for its next run (`mags run -f`, the SDK's `files`): streamed to disk
 * as they arrive (never held in memory), then claimed by the job that names them (moved out of
 * the waiting files at submission, so no second job can take them), which writes them into its
 * /workspace and removes them. The files on disk are the state between server restarts; while
 * uploads stream, one in-memory ledger per owner counts them, so parallel uploads cannot
 * together go over the owner's limits.
 */
export class UploadStore {
  readonly #directory: string;
  readonly maxFileBytes: number;
  readonly #maxFiles: number;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #ledger = new UploadLedger();
  /** Host files staged in place by this process (`stageLocal`), by `owner/id`. */
  readonly #local = new Map<string, Omit<ClaimedUpload, 'id'>>();

  constructor(options: UploadStoreOptions) {
    this.#directory = options.directory;
    this.maxFileBytes = options.maxFileBytes ?? defaultMaxUploadBytes;
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
    const directory = this.#ownerDirectory(owner);
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const ledger = this.#ledger.of(owner);
    // Counted in before its first byte, under the owner's lock: parallel uploads see each other.
    await ledger.locked(async () => {
      ledger.setStaged(await this.#sweep(directory));
      this.#refuseAnotherFile(ledger);
      ledger.inFlightCount++;
    });
    const id = randomId('upl_');
    const partial = join(directory, `${id}.partial`);
    let sizeBytes = 0;
    const counted = async function* (this: UploadStore): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        sizeBytes += chunk.length;
        ledger.inFlightBytes += chunk.length;
        if (sizeBytes > this.maxFileBytes) throw this.#tooLarge();
        if (ledger.stagedBytes + ledger.inFlightBytes > this.#maxBytes) throw this.#overQuota();
        yield chunk;
      }
    };
    const file = createWriteStream(partial, { mode: 0o600 });
    try {
      await pipeline(counted.call(this), file);
      // Waiting under its final name from here on: the ledger counts it as staged at once.
      await ledger.locked(async () => {
        await rename(partial, join(directory, id));
        ledger.stagedCount++;
        ledger.stagedBytes += sizeBytes;
      });
      return { id, sizeBytes };
    } catch (error) {
      // The pipeline destroys the file stream, but its open may still be under way: removed
      // before it ends, the file would be created after the rm and stay behind.
      if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
      await rm(partial, { force: true });
      throw error;
    } finally {
      ledger.inFlightCount--;
      ledger.inFlightBytes -= sizeBytes;
    }
  }

  /**
   * Stages a file of this host for a run of this very process (the embedded session), without
   * copying it: hard-linked into the store when it is on the same filesystem, else its path is
   * used as it is (the job reads it once, and never removes it). A file over `maxFileBytes`, or
   * not a regular file, is refused.
   */
  async stageLocal(owner: string, path: string): Promise<{ id: string; sizeBytes: number }> {
    const stats = await stat(path);
    if (!stats.isFile()) {
      throw new InvalidInputError(`${path} is not a regular file.`, {
        code: 'not_a_file',
        hint: 'Give -f a file (pack a directory first: tar czf dir.tgz dir).',
      });
    }
    if (stats.size > this.maxFileBytes) throw this.#tooLarge();
    const id = randomId('upl_');
    const linked = join(this.#ownerDirectory(owner), 'local', id);
    await mkdir(join(this.#ownerDirectory(owner), 'local'), { recursive: true, mode: 0o700 });
    // EXDEV (another filesystem) or EPERM (a link refused): the file is used where it is.
    const staged = await link(path, linked).then(
      () => ({ path: linked, sizeBytes: stats.size, removable: true }),
      () => ({ path, sizeBytes: stats.size, removable: false }),
    );
    this.#local.set(`${owner}/${id}`, staged);
    return { id, sizeBytes: stats.size };
  }

  /**
   * Takes staged uploads for the job `claimant`: each is moved out of the waiting files at once,
   * so a second job naming one of them is refused (404) instead of racing the first for it. All
   * or nothing: an unknown id claims none. The job removes them when it is done (`release`).
   */
  async claim(owner: string, ids: string[], claimant: string): Promise<ClaimedUpload[]> {
    const paths = ids.map((id) => this.#path(owner, id)); // invalid ids before anything moves
    const ledger = this.#ledger.of(owner);
    return ledger.locked(async () => {
      const claimed: ClaimedUpload[] = [];
      try {
        for (const [index, id] of ids.entries()) {
          claimed.push(await this.#claimOne(owner, id, paths[index] as string, claimant));
        }
      } catch (error) {
        await this.#unclaim(owner, claimed);
        throw error;
      }
      // No longer waiting: they leave the owner's upload quota (the job's queue bounds them).
      for (const upload of claimed) {
        if (!this.#isClaimedFile(owner, upload)) continue;
        ledger.stagedCount = Math.max(0, ledger.stagedCount - 1);
        ledger.stagedBytes = Math.max(0, ledger.stagedBytes - upload.sizeBytes);
      }
      return claimed;
    });
  }

  /** Removes claimed uploads (their job is done with them); a host file staged in place stays. */
  async release(claimed: ClaimedUpload[]): Promise<void> {
    await Promise.all(
      claimed.filter((upload) => upload.removable).map(({ path }) => rm(path, { force: true })),
    );
  }

  /** Removes staged files nobody claimed (a host file staged in place is only forgotten). */
  async remove(owner: string, ids: string[]): Promise<void> {
    const paths = ids.map((id) => this.#path(owner, id));
    for (const id of ids) {
      const local = this.#local.get(`${owner}/${id}`);
      if (!local) continue;
      this.#local.delete(`${owner}/${id}`);
      if (local.removable) await rm(local.path, { force: true });
    }
    const ledger = this.#ledger.of(owner);
    await ledger.locked(async () => {
      for (const path of paths) {
        const size = (await stat(path).catch(() => undefined))?.size;
        await rm(path, { force: true });
        if (size === undefined) continue;
        ledger.stagedCount = Math.max(0, ledger.stagedCount - 1);
        ledger.stagedBytes = Math.max(0, ledger.stagedBytes - size);
      }
    });
  }

  async #claimOne(
    owner: string,
    id: string,
    path: string,
    claimant: string,
  ): Promise<ClaimedUpload> {
    const local = this.#local.get(`${owner}/${id}`);
    if (local) {
      this.#local.delete(`${owner}/${id}`);
      return { id, ...local };
    }
    const directory = join(this.#ownerDirectory(owner), claimedDirectory);
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const target = join(directory, `${claimant}.${id}`);
    try {
      await rename(path, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw uploadNotFound(id);
      throw error;
    }
    // Its age counts from the claim: a job may wait in the queue before it writes it.
    const now = new Date();
    await utimes(target, now, now).catch(() => {});
    const sizeBytes = (await stat(target).catch(() => undefined))?.size ?? 0;
    return { id, path: target, sizeBytes, removable: true };
  }

  /** Puts back what a claim that failed half-way had taken. */
  async #unclaim(owner: string, claimed: ClaimedUpload[]): Promise<void> {
    for (const { id, ...upload } of claimed) {
      if (this.#isClaimedFile(owner, upload)) {
        await rename(upload.path, this.#path(owner, id)).catch(() => {});
      } else this.#local.set(`${owner}/${id}`, upload);
    }
  }

  /** Whether it was moved out of the owner's waiting uploads (not a host file staged in place). */
  #isClaimedFile(owner: string, upload: Pick<ClaimedUpload, 'path'>): boolean {
    return upload.path.startsWith(join(this.#ownerDirectory(owner), claimedDirectory));
  }

  #ownerDirectory(owner: string): string {
    if (owner.includes('/') || owner.startsWith('.') || owner === '') {
      throw new InvalidInputError(`${JSON.stringify(owner)} cannot own uploads.`);
    }
    return join(this.#directory, owner);
  }

  /** Where an upload waits; an id that is not one this store made names no file (no `../`). */
  #path(owner: string, id: string): string {
    if (!uploadIdPattern.test(id) || owner.includes('/') || owner.startsWith('.')) {
      throw new InvalidInputError(`${JSON.stringify(id)} is not an upload id.`, {
        code: 'invalid_upload',
        hint: 'Use the id POST /v1/uploads returned (upl_...).',
      });
    }
    return join(this.#directory, owner, id);
  }

  /**
   * What the owner has waiting, after removing what has waited too long: uploads past
   * `maxAgeMs`, what uploads that died half-way or jobs that died left (claimed files past a
   * day, links of host files past `maxAgeMs`).
   */
  async #sweep(directory: string): Promise<{ count: number; bytes: number }> {
    let count = 0;
    let bytes = 0;
    const now = Date.now();
    const oldest = now - this.#maxAgeMs;
    for (const name of await readdir(directory)) {
      const path = join(directory, name);
      if (name === claimedDirectory || name === 'local') {
        // Links of host files: their mtime is the user's file's, the link's time is its ctime.
        const age = name === 'local' ? oldest : now - claimedMaxAgeMs;
        await removeOlder(path, age, name === 'local' ? 'ctimeMs' : 'mtimeMs');
        continue;
      }
      const stats = await stat(path).catch(() => undefined);
      if (!stats?.isFile()) continue;
      if (stats.mtimeMs < oldest) {
        await rm(path, { force: true });
        continue;
      }
      // A partial upload is counted by the ledger of the process receiving it, not here.
      if (!uploadIdPattern.test(name)) continue;
      count += 1;
      bytes += stats.size;
    }
    return { count, bytes };
  }

  #refuseAnotherFile(ledger: OwnerLedger): void {
    const waiting = ledger.stagedCount + ledger.inFlightCount;
    if (waiting < this.#maxFiles) return;
    throw new QuotaExceededError(
      `${waiting} uploads are waiting for a run: at most ${this.#maxFiles} may.`,
      {
        code: 'upload_quota',
        hint: 'Start the runs that take them (uploads unused for an hour are removed).',
      },
    );
  }

  #overQuota(): QuotaExceededError {
    return new QuotaExceededError(
      `The uploads waiting for a run would be over ${this.#maxBytes} bytes.`,
      { code: 'upload_quota', hint: 'Start the runs that take them first.' },
    );
  }

  #tooLarge(): InvalidInputError {
    return new InvalidInputError(`Upload over the ${this.maxFileBytes}-byte limit.`, {
      code: 'too_large',
      statusCode: 413,
      hint: 'Put large data in the workspace once (it persists with -w) instead of uploading it every run.',
    });
  }
}

function uploadNotFound(id: string): NotFoundError {
  return new NotFoundError(`No upload ${JSON.stringify(id)}.`, {
    code: 'upload_not_found',
    hint: 'Upload the file again (POST /v1/uploads): an upload serves one run, and one unused for an hour is removed.',
  });
}

/** Removes the files in `directory` whose `field` time is before `before`. */
async function removeOlder(
  directory: string,
  before: number,
  field: 'mtimeMs' | 'ctimeMs',
): Promise<void> {
  for (const name of await readdir(directory).catch(() => [])) {
    const path = join(directory, name);
    const stats = await stat(path).catch(() => undefined);
    if (stats && stats[field] < before) await rm(path, { force: true });
  }
}
