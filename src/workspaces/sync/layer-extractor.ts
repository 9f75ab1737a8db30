import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { nativeBinaryPath } from '../../config/package-paths.ts';
import { MagsError } from '../../errors/mags-error.ts';

export interface ExtractorOptions {
  /** The layer being made. */
  directory: string;
  /** Where `slice` and `release` sources are (plain names in it). */
  unpackedDirectory: string;
  /** Where `pieces` sources are (paths below it: the chunk cache). */
  cacheDirectory: string;
  /** The host uids and gids a file may be given (the id mapping's range); others are refused. */
  hostIds: { first: number; last: number };
}

/** Enough of mags-layer's stderr to say what failed (it prints one line, then exits). */
const maxStderrBytes = 4096;

export interface Owned {
  uid: number;
  gid: number;
  mtimeMs: number;
}

/**
 * Writes a layer through `mags-layer extract` (native/layer-extract.c): one process creating every
 * entry with a few syscalls each, instead of ~5 thread-pool round trips per file from Node.js.
 * Records go in as the caller has them; paths are relative to the layer and already checked
 * (pull-workspace.ts). `close` resolves once everything, directories' metadata last, is written.
 */
export class LayerExtractor {
  readonly #child: ChildProcessByStdio<Writable, null, Readable>;
  readonly #exited: Promise<[number | null, NodeJS.Signals | null]>;
  #stderr = '';
  #spawnError: unknown;

  constructor(options: ExtractorOptions) {
    const { first, last } = options.hostIds;
    const argv = [options.unpackedDirectory, options.cacheDirectory, String(first), String(last)];
    this.#child = spawn(nativeBinaryPath('mags-layer'), ['extract', options.directory, ...argv], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    this.#child.stderr.on('data', (chunk: Buffer) => {
      if (this.#stderr.length < maxStderrBytes)
        this.#stderr += chunk.toString().slice(0, maxStderrBytes - this.#stderr.length);
    });
    // A dead extractor's stdin errors (EPIPE); its exit status says why.
    this.#child.stdin.on('error', () => {});
    // A binary that cannot start emits 'error' (and no 'close'): close() reports it.
    this.#exited = (
      once(this.#child, 'close') as Promise<[number | null, NodeJS.Signals | null]>
    ).catch((error: unknown) => {
      this.#spawnError = error;
      return [null, null];
    });
  }

  directory(path: Buffer, mode: number, owner: Owned, opaque: boolean): void {
    this.#fields('d', path, mode, owner.uid, owner.gid, owner.mtimeMs, opaque ? 1 : 0);
  }

  file(path: Buffer, mode: number, owner: Owned, data: Buffer): void {
    this.#fields('f', path, mode, owner.uid, owner.gid, owner.mtimeMs, data.length);
    this.#child.stdin.write(data);
  }

  /** A file: `size` bytes of the local file `source` from `offset` (an unpacked pack). */
  slice(path: Buffer, mode: number, owner: Owned, size: number, source: string, offset: number) {
    this.#fields('s', path, mode, owner.uid, owner.gid, owner.mtimeMs, size, source, offset);
  }

  /** Deletes the local file `source` once every record before this one is written. */
  release(source: string): void {
    this.#fields('u', source);
  }

  /** A file made of local files at offsets (cached chunks); pieces without a source are holes. */
  pieces(
    path: Buffer,
    mode: number,
    owner: Owned,
    size: number,
    pieces: Array<{ offset: number; source: string | undefined }>,
  ): void {
    this.#fields('p', path, mode, owner.uid, owner.gid, owner.mtimeMs, size, pieces.length);
    for (const piece of pieces) this.#fields(piece.offset, piece.source ?? '');
  }

  symlink(path: Buffer, owner: Owned, target: Buffer): void {
    this.#fields('l', path, owner.uid, owner.gid, owner.mtimeMs, target);
  }

  hardLink(path: Buffer, existing: Buffer): void {
    this.#fields('h', path, existing);
  }

  whiteout(path: Buffer): void {
    this.#fields('w', path);
  }

  /** Records written inside `write` go down the pipe together (one writev, not one each). */
  batch(write: () => void): void {
    this.#child.stdin.cork();
    try {
      write();
    } finally {
      this.#child.stdin.uncork();
    }
  }

  /** Waits while the pipe is full, so a fast download does not pile up in memory. */
  async drained(): Promise<void> {
    if (this.#child.stdin.writableNeedDrain)
      await Promise.race([once(this.#child.stdin, 'drain'), this.#exited]);
  }

  async close(): Promise<void> {
    this.#child.stdin.end();
    const [code, signal] = await this.#exited;
    if (this.#spawnError) throw this.#spawnError;
    if (code === 0) return;
    const message = this.#stderr.trim() || `mags-layer extract ended by ${signal ?? code}`;
    // It exits with the errno: a full disk keeps its code (workspace-sync.ts says what to do).
    if (code === 28 || code === 122) {
      const error = new Error(message) as NodeJS.ErrnoException;
      error.code = code === 28 ? 'ENOSPC' : 'EDQUOT';
      throw error;
    }
    throw new MagsError(`Restoring the layer failed: ${message}.`, {
      code: 'restore_failed',
      hint: 'Nothing was changed in place. If the message names a path, the version may be damaged: restore another one (mags workspace versions NAME).',
    });
  }

  /** Stops it (a failed restore): the caller removes the half-written layer. */
  async abort(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exited;
  }

  #fields(...fields: Array<string | number | Buffer>): void {
    // One buffer per record: latin1 turns each character back into exactly its byte, so a path
    // that is not UTF-8 goes through unchanged (and thousands of small Buffers are not made).
    // A NUL inside a field would start a record of the caller's choosing: refused (the manifest
    // schema already refuses them; this is the last place a mistake could get through).
    let text = '';
    for (const field of fields) {
      if (typeof field === 'number') {
        if (!Number.isSafeInteger(field))
          throw new Error(`mags-layer field ${field} is not an integer`);
        text += `${field}\0`;
        continue;
      }
      const bytes = Buffer.isBuffer(field) ? field.toString('latin1') : field;
      if (bytes.includes('\0')) throw new Error('mags-layer field holds NUL');
      text += `${bytes}\0`;
    }
    this.#child.stdin.write(Buffer.from(text, 'latin1'));
  }
}
