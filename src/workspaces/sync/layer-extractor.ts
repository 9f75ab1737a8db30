import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { nativeBinaryPath } from '../../config/package-paths.ts';

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

  constructor(directory: string) {
    this.#child = spawn(nativeBinaryPath('mags-layer'), ['extract', directory], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    this.#child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
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
    const error = new Error(message) as NodeJS.ErrnoException;
    if (code === 28) error.code = 'ENOSPC';
    if (code === 122) error.code = 'EDQUOT';
    throw error;
  }

  /** Stops it (a failed restore): the caller removes the half-written layer. */
  async abort(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exited;
  }

  #fields(...fields: Array<string | number | Buffer>): void {
    // One buffer per record: latin1 turns each character back into exactly its byte, so a path
    // that is not UTF-8 goes through unchanged (and thousands of small Buffers are not made).
    let text = '';
    for (const field of fields)
      text += `${Buffer.isBuffer(field) ? field.toString('latin1') : field}\0`;
    this.#child.stdin.write(Buffer.from(text, 'latin1'));
  }
}
