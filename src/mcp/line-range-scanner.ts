/**
 * Finds lines `startLine`..`endLine` (1-based, inclusive) in a file's bytes as they stream in,
 * looking for newlines on the bytes (never decoding what it skips) and keeping only the bytes of
 * the asked lines, at most `keepBytes` of them: memory and time stay small whatever the file.
 * A line is the text before a `\n`; a final `\n` ends the last line, it does not start another.
 */
export class LineRangeScanner {
  readonly #startLine: number;
  readonly #endLine: number;
  readonly #keepBytes: number;
  readonly #kept: Uint8Array[] = [];
  #keptLength = 0;
  /** The line the next byte belongs to. */
  #line = 1;
  #scannedBytes = 0;
  #lastByte: number | undefined;

  constructor(startLine: number, endLine: number, keepBytes: number) {
    this.#startLine = startLine;
    this.#endLine = endLine;
    this.#keepBytes = keepBytes;
  }

  /** Every asked line is complete: the rest of the file is not needed. */
  get done(): boolean {
    return this.#line > this.#endLine;
  }

  get scannedBytes(): number {
    return this.#scannedBytes;
  }

  /** Takes the next bytes of the file (ignored once `done`). */
  push(chunk: Uint8Array): void {
    let position = 0;
    while (position < chunk.length && !this.done) {
      const newline = chunk.indexOf(0x0a, position);
      const end = newline === -1 ? chunk.length : newline;
      if (this.#line >= this.#startLine) {
        // Keep the newline between two asked lines, not the one after the last.
        const keepEnd = newline !== -1 && this.#line < this.#endLine ? newline + 1 : end;
        this.#keep(chunk.subarray(position, keepEnd));
      }
      this.#scannedBytes += (newline === -1 ? end : newline + 1) - position;
      this.#lastByte = chunk[(newline === -1 ? end : newline + 1) - 1];
      if (newline === -1) break;
      this.#line++;
      position = newline + 1;
    }
  }

  /**
   * What was found, once the file ended (`atEnd`) or the scan stopped. `kept` holds the asked
   * lines' bytes joined by `\n` (at most `keepBytes`: the caller asks for a few more than it
   * shows, to know when the range was cut); `lastLine` is the last asked line that exists as far
   * as the scan went; `fileLines` is the file's line count when `atEnd`.
   */
  result(atEnd: boolean): {
    kept: Uint8Array;
    lastLine: number;
    fileLines: number | undefined;
  } {
    // Lines begun so far: a final newline (or an empty file) begins no line.
    const begunLines =
      this.#lastByte === undefined || this.#lastByte === 0x0a ? this.#line - 1 : this.#line;
    let kept = Buffer.concat(this.#kept, this.#keptLength);
    // Stopping before the end line right after a newline kept that newline, which ends the
    // last line shown rather than joining it to another.
    if (!this.done && kept.at(-1) === 0x0a && !this.#cut) {
      kept = kept.subarray(0, kept.length - 1);
    }
    return {
      kept,
      lastLine: Math.min(this.#endLine, begunLines),
      fileLines: atEnd ? begunLines : undefined,
    };
  }

  #cut = false;

  #keep(bytes: Uint8Array): void {
    const room = this.#keepBytes - this.#keptLength;
    if (bytes.length > room) this.#cut = true;
    if (room <= 0 || bytes.length === 0) return;
    // A copy, so the stream's chunk can be freed.
    const copy = bytes.slice(0, room);
    this.#kept.push(copy);
    this.#keptLength += copy.length;
  }
}
