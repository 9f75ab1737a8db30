import { promisify } from 'node:util';
import { zstdCompress } from 'node:zlib';
import type { ObjectStore } from '../../storage/object-store.ts';
import { type PackReference, packKey, sha256 } from './manifest.ts';

const compress = promisify(zstdCompress);

/** Where a small file's content is: a pack (its hash is set once the pack is sealed) and offset. */
export interface PackedLocation {
  pack: PackReference;
  offset: number;
}

export interface PackWriterOptions {
  store: ObjectStore;
  /** A pack is sealed once its contents reach this many bytes (uncompressed). */
  targetBytes: number;
  /** Packs compressing or uploading at once; `add` waits beyond this (bounds the memory). */
  inFlight?: number;
}

/**
 * Packs small files' contents into pack objects: the contents one after another, compressed as
 * one zstd stream (small files compress far better together than alone), stored under the hash
 * of the stored bytes. A content added twice in one sync is stored once.
 */
export class PackWriter {
  readonly #options: PackWriterOptions;
  readonly #locations = new Map<string, PackedLocation>();
  readonly #sealing = new Set<Promise<void>>();
  #current: PackReference = { hash: '', bytes: 0 };
  #parts: Buffer[] = [];
  #failure: unknown;
  /** The packs this writer stored (a sync need not check that they exist). */
  readonly written = new Set<PackReference>();
  uploadedPacks = 0;
  uploadedBytes = 0;

  constructor(options: PackWriterOptions) {
    this.#options = options;
  }

  /** Adds a content (its sha256 is `hash`); the location's pack hash is final after `finish`. */
  async add(hash: string, data: Buffer): Promise<PackedLocation> {
    if (this.#failure) throw this.#failure;
    const existing = this.#locations.get(hash);
    if (existing) return existing;
    // Every adder waits while the limit is reached, not only the one that sealed: with 32 adders
    // each sealing in turn, ~32 packs would otherwise be compressing and uploading at once.
    if (this.#sealing.size >= this.#limit) {
      while (this.#sealing.size >= this.#limit) await Promise.race(this.#sealing);
      if (this.#failure) throw this.#failure;
      const added = this.#locations.get(hash);
      if (added) return added;
    }
    const location = { pack: this.#current, offset: this.#current.bytes };
    this.#locations.set(hash, location);
    this.#parts.push(data);
    this.#current.bytes += data.length;
    if (this.#current.bytes >= this.#options.targetBytes) await this.#seal();
    return location;
  }

  /** Seals the last pack and waits for every upload: after this, every location is final. */
  async finish(): Promise<void> {
    if (this.#current.bytes > 0) await this.#seal();
    while (this.#sealing.size > 0) await Promise.all(this.#sealing);
    if (this.#failure) throw this.#failure;
  }

  get #limit(): number {
    return this.#options.inFlight ?? 4;
  }

  async #seal(): Promise<void> {
    const pack = this.#current;
    const parts = this.#parts;
    this.#current = { hash: '', bytes: 0 };
    this.#parts = [];
    const sealing = (async () => {
      // Output in large chunks: zlib's default 16 KiB would be a thread-pool round trip each.
      const body = await compress(Buffer.concat(parts, pack.bytes), { chunkSize: 1024 * 1024 });
      const hash = sha256(body);
      // Content-addressed: an identical pack already stored is simply written again.
      await this.#options.store.put(packKey(hash), body);
      pack.hash = hash;
      this.written.add(pack);
      this.uploadedPacks++;
      this.uploadedBytes += body.length;
    })().catch((error: unknown) => {
      this.#failure ??= error;
    });
    this.#sealing.add(sealing);
    void sealing.finally(() => this.#sealing.delete(sealing));
    while (this.#sealing.size >= this.#limit) await Promise.race(this.#sealing);
    if (this.#failure) throw this.#failure;
  }
}
