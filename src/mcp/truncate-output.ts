/**
 * A command's output as a model sees it: the first and the last bytes, with a marker saying how
 * many bytes in between were left out. A model reads the start (what ran) and the end (the
 * error, the summary) of a long build log; the full log stays in the job (`mags://jobs/ID/log`).
 */

export interface TruncationLimits {
  headBytes: number;
  tailBytes: number;
}

export const defaultTruncationLimits: TruncationLimits = {
  headBytes: 16 * 1024,
  tailBytes: 16 * 1024,
};

export interface TruncatedOutput {
  text: string;
  /** All the bytes the command wrote (stdout and stderr together). */
  totalBytes: number;
  /** The bytes not in `text` (0: the output is whole). */
  omittedBytes: number;
}

/** The marker between head and tail; tests and descriptions name its wording. */
export function omissionMarker(omittedBytes: number): string {
  return `\n[... ${omittedBytes} bytes of output left out here; the job's full log has them ...]\n`;
}

const isContinuationByte = (byte: number) => (byte & 0xc0) === 0x80;

/** The length of the UTF-8 sequence a lead byte starts (1 for ASCII and for stray bytes). */
function sequenceLength(byte: number): number {
  if (byte >= 0xf0 && byte <= 0xf7) return 4;
  if (byte >= 0xe0) return 3;
  if (byte >= 0xc0) return 2;
  return 1;
}

/** `bytes` shortened by the last character's bytes when that character is cut off. */
export function withoutCutLastCharacter(bytes: Uint8Array): Uint8Array {
  // A character is at most 4 bytes: look at most 3 bytes back for its lead byte.
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const byte = bytes[bytes.length - back] as number;
    if (isContinuationByte(byte)) continue;
    return sequenceLength(byte) > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}

/** `bytes` without the continuation bytes of a character cut off at its start. */
export function withoutCutFirstCharacter(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < Math.min(3, bytes.length) && isContinuationByte(bytes[start] as number)) start++;
  return bytes.subarray(start);
}

/** Head and tail of `bytes`, never splitting a UTF-8 character; whole when it fits. */
export function truncateOutput(
  bytes: Uint8Array,
  limits: TruncationLimits = defaultTruncationLimits,
): TruncatedOutput {
  const decoder = new TextDecoder();
  if (bytes.length <= limits.headBytes + limits.tailBytes) {
    return { text: decoder.decode(bytes), totalBytes: bytes.length, omittedBytes: 0 };
  }
  const head = withoutCutLastCharacter(bytes.subarray(0, limits.headBytes));
  const tail = withoutCutFirstCharacter(bytes.subarray(bytes.length - limits.tailBytes));
  const omittedBytes = bytes.length - head.length - tail.length;
  return {
    text: decoder.decode(head) + omissionMarker(omittedBytes) + decoder.decode(tail),
    totalBytes: bytes.length,
    omittedBytes,
  };
}

/**
 * Collects a running command's output in bounded memory: the first `headBytes` and the last
 * `tailBytes` (plus one chunk), however much it writes.
 */
export class OutputCollector {
  readonly #limits: TruncationLimits;
  #head: Uint8Array = new Uint8Array(0);
  #tail: Uint8Array[] = [];
  #tailLength = 0;
  #totalBytes = 0;

  constructor(limits: TruncationLimits = defaultTruncationLimits) {
    this.#limits = limits;
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  add(chunk: Uint8Array): void {
    this.#totalBytes += chunk.length;
    const room = this.#limits.headBytes - this.#head.length;
    if (room > 0) {
      const taken = chunk.subarray(0, room);
      this.#head = Buffer.concat([this.#head, taken]);
      chunk = chunk.subarray(taken.length);
    }
    if (chunk.length === 0) return;
    this.#tail.push(chunk);
    this.#tailLength += chunk.length;
    // Drop whole chunks that no longer reach into the last tailBytes.
    while (
      this.#tail.length > 1 &&
      this.#tailLength - (this.#tail[0]?.length ?? 0) >= this.#limits.tailBytes
    ) {
      this.#tailLength -= this.#tail.shift()?.length ?? 0;
    }
  }

  result(): TruncatedOutput {
    const tail = Buffer.concat(this.#tail);
    const keptTail = tail.subarray(Math.max(0, tail.length - this.#limits.tailBytes));
    const skipped = this.#totalBytes - this.#head.length - keptTail.length;
    if (skipped === 0) {
      return truncateOutput(Buffer.concat([this.#head, keptTail]), this.#limits);
    }
    const head = withoutCutLastCharacter(this.#head);
    const trimmedTail = withoutCutFirstCharacter(keptTail);
    const omittedBytes = this.#totalBytes - head.length - trimmedTail.length;
    const decoder = new TextDecoder();
    return {
      text: decoder.decode(head) + omissionMarker(omittedBytes) + decoder.decode(trimmedTail),
      totalBytes: this.#totalBytes,
      omittedBytes,
    };
  }

  /** The last non-empty line written so far (for progress messages), at most `maxCharacters`. */
  lastLine(maxCharacters = 200): string | undefined {
    const recent = Buffer.concat(this.#tail.length > 0 ? this.#tail.slice(-2) : [this.#head]);
    const text = new TextDecoder().decode(withoutCutFirstCharacter(recent.subarray(-4096)));
    const line = text
      .split('\n')
      .map((candidate) => candidate.trim())
      .filter((candidate) => candidate.length > 0)
      .at(-1);
    return line === undefined ? undefined : line.slice(-maxCharacters);
  }
}
