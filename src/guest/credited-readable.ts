import { Readable } from 'node:stream';
import { flowWindowBytes } from './protocol.ts';

/** Acknowledge consumed bytes in batches: one small frame per quarter window, not per chunk. */
const acknowledgeEveryBytes = flowWindowBytes / 4;

/**
 * A Readable fed by the agent's data frames (stdout, stderr or file data of one request) that
 * reports what its consumer has taken, so the agent can send more. The agent never has more than
 * one window unacknowledged, so this stream buffers at most that much: a consumer that stops
 * reading pauses only its own command, never the shared connection.
 */
export class CreditedReadable extends Readable {
  readonly #acknowledge: (bytes: number) => void;
  readonly #onDestroy: (() => void) | undefined;
  #pushedBytes = 0;
  #acknowledgedBytes = 0;

  /**
   * `acknowledge` sends the protocol's OUTPUT_ACK for this stream; `onDestroy` runs when the
   * stream is destroyed (by its consumer, or after an error), so a request nobody reads any more
   * can be cancelled. Neither may throw.
   */
  constructor(acknowledge: (bytes: number) => void, onDestroy?: () => void) {
    super({ highWaterMark: acknowledgeEveryBytes });
    this.#acknowledge = acknowledge;
    this.#onDestroy = onDestroy;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#onDestroy?.();
    callback(error);
  }

  /** Adds a data frame's bytes (ignores `push`'s advice: the window already bounds the buffer). */
  deliver(chunk: Buffer): void {
    if (this.readableEnded || this.destroyed) return;
    this.#pushedBytes += chunk.length;
    this.push(chunk);
    this.#settle();
  }

  /** No more data: the request ended. */
  finish(): void {
    if (!this.readableEnded && !this.destroyed) this.push(null);
  }

  // Credit goes back as the consumer takes data. `_read` alone is not enough: Node calls it once
  // and then not again until the next push, so a consumer that starts after a whole window is
  // buffered (nothing more can come until we acknowledge) would drain it and wait forever.
  // Every consumer, flowing or paused or async-iterating, takes data through read().
  override read(size?: number): unknown {
    const chunk = super.read(size);
    this.#settle();
    return chunk;
  }

  override _read(): void {
    this.#settle();
  }

  #settle(): void {
    const consumed = this.#pushedBytes - this.readableLength;
    const owed = consumed - this.#acknowledgedBytes;
    // Batching cannot stall the agent: it stops only with a full window unacknowledged, which
    // means more than three quarters are still buffered here, and reading them calls _read.
    if (owed >= acknowledgeEveryBytes) {
      this.#acknowledgedBytes = consumed;
      this.#acknowledge(owed);
    }
  }
}
