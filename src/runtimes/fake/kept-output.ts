/**
 * One output stream of a durable exec of the fake runtime, as the guest agent keeps it
 * (`struct stream` in native/agent.c): every byte no host has acknowledged yet, from absolute
 * offset `base` (counted from the command's first byte), and how far the current host was sent.
 */
export class KeptOutput {
  /** Offset of the first byte kept: everything below was acknowledged, and is gone. */
  base = 0;
  /** Offset up to which the host holding the exec now was sent bytes. */
  sent = 0;
  readonly #chunks: Buffer[] = [];
  #length = 0;

  /** Bytes kept (not acknowledged). */
  get keptBytes(): number {
    return this.#length;
  }

  /** Bytes the command has written to this stream so far. */
  get end(): number {
    return this.base + this.#length;
  }

  append(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Forgets the first `count` bytes kept (a host has them). */
  discard(count: number): void {
    let left = Math.min(count, this.#length);
    this.base += left;
    this.#length -= left;
    while (left > 0) {
      const first = this.#chunks[0] as Buffer;
      if (first.length <= left) {
        this.#chunks.shift();
        left -= first.length;
      } else {
        this.#chunks[0] = first.subarray(left);
        left = 0;
      }
    }
  }

  /** Up to `maxBytes` of the bytes kept, from offset `from` (at least `base`). */
  read(from: number, maxBytes: number): Buffer {
    let skip = from - this.base;
    let wanted = maxBytes;
    const parts: Buffer[] = [];
    for (const chunk of this.#chunks) {
      if (wanted <= 0) break;
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      const part = chunk.subarray(skip, skip + wanted);
      skip = 0;
      parts.push(part);
      wanted -= part.length;
    }
    return Buffer.concat(parts);
  }
}
