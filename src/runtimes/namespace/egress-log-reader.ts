import { open, stat } from 'node:fs/promises';

/** Lines longer than this are the keeper's own cap (512 bytes); more than this is not a line. */
const maxReadBytes = 64 * 1024;

/**
 * Reads what the egress keeper (native/egress.c) appended to a sandbox's log of refusals since
 * the last read: whole lines only, so a line being written is read whole the next time.
 */
export class EgressLogReader {
  readonly #path: string;
  #offset: number;

  constructor(path: string, offset: number) {
    this.#path = path;
    this.#offset = offset;
  }

  async read(): Promise<string[]> {
    const file = await open(this.#path, 'r').catch(() => undefined);
    if (!file) return []; // no allow-list, or nothing refused yet
    try {
      const buffer = Buffer.alloc(maxReadBytes);
      const { bytesRead } = await file.read(buffer, 0, maxReadBytes, this.#offset);
      const text = buffer.subarray(0, bytesRead).toString('utf8');
      const end = text.lastIndexOf('\n');
      if (end < 0) return [];
      this.#offset += Buffer.byteLength(text.slice(0, end + 1));
      return text.slice(0, end).split('\n');
    } finally {
      await file.close();
    }
  }
}

/** The size of a file, 0 when there is none. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}
