/**
 * Lines redrawn in place on a terminal (`mags plan watch`): each draw moves the cursor back to
 * the first line it drew, clears to the end of the screen and writes the new lines. Plain ANSI
 * cursor control (CPL, ED), no full-screen library: what was printed above stays, and what the
 * board last showed stays on the screen when it ends. The lines must not wrap (the caller cuts
 * them to the terminal's width): a wrapped line would be one more to move back over.
 */
export class LiveBoard {
  readonly #stream: NodeJS.WriteStream;
  #drawn = 0;
  #last = '';

  readonly #redraw: () => void;

  /** `redraw` draws the board anew: after a resize, when what was drawn is cleared. */
  constructor(stream: NodeJS.WriteStream, redraw: () => void = () => {}) {
    this.#stream = stream;
    this.#redraw = redraw;
    // The cursor would flicker along each redraw; it comes back at `end` (and on exit).
    this.#stream.write('\x1b[?25l');
    process.once('exit', this.#showCursor);
    this.#stream.on('resize', this.#resized);
  }

  /** The terminal's width, for cutting lines (80 when it says nothing). */
  get columns(): number {
    return this.#stream.columns || 80;
  }

  /** The terminal's height: a board taller than it could not move back to its first line. */
  get rows(): number {
    return this.#stream.rows || 24;
  }

  draw(lines: string[]): void {
    const text = lines.join('\n');
    if (text === this.#last) return;
    this.#last = text;
    // CPL (ESC [ n F) to the start of the first line drawn, ED (ESC [ J) clears below it.
    const back = this.#drawn > 1 ? `\x1b[${this.#drawn - 1}F` : '\r';
    this.#stream.write(`${this.#drawn > 0 ? `${back}\x1b[J` : ''}${text}`);
    this.#drawn = lines.length;
  }

  /** Leaves the last drawing on the screen, the cursor after it; a second call does nothing. */
  end(): void {
    if (this.#drawn > 0) this.#stream.write('\n');
    this.#drawn = 0;
    this.#showCursor();
    process.off('exit', this.#showCursor);
    this.#stream.off('resize', this.#resized);
  }

  /**
   * A narrower terminal rewraps what was drawn, so the count of lines to move back over is
   * wrong: the screen is cleared (ED 2, cursor home) and the board drawn anew at the top.
   */
  readonly #resized = (): void => {
    this.#stream.write('\x1b[H\x1b[2J');
    this.#drawn = 0;
    this.#last = '';
    this.#redraw();
  };

  readonly #showCursor = (): void => {
    this.#stream.write('\x1b[?25h');
  };
}
