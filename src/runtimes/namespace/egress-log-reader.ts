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
  /** The read in progress: reads run one after another (two exec jobs poll the same log). */
  #reading: Promise<unknown> = Promise.resolve();

  constructor(path: string, offset: number) {
    this.#path = path;
    this.#offset = offset;
  }

  read(): Promise<string[]> {
    const next = this.#reading.then(() => this.#readFrom(this.#offset));
    this.#reading = next.catch(() => {});
    return next;
  }

  async #readFrom(start: number): Promise<string[]> {
    const file = await open(this.#path, 'r').catch(() => undefined);
    if (!file) return []; // nothing refused yet
    try {
      const buffer = Buffer.alloc(maxReadBytes);
      const { bytesRead } = await file.read(buffer, 0, maxReadBytes, start);
      const end = buffer.subarray(0, bytesRead).lastIndexOf('\n');
      if (end < 0) return [];
      // From the start this read was given, by bytes: never counted twice.
      this.#offset = start + end + 1;
      return buffer.subarray(0, end).toString('utf8').split('\n');
    } finally {
      await file.close();
    }
  }
}

/** The size of a file, 0 when there is none. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}
