import type { Readable } from 'node:stream';
import { MagsError } from '../../errors/mags-error.ts';

/**
 * Destroys `stream` once `idleMs` pass without a byte taken from it. A download's client that
 * reads the headers and then stops reading (or a network that stalls) would otherwise hold the
 * read open for ever: the agent's file slot, the sandbox's hold on staying awake, and the bytes
 * already buffered. Destroying the stream cancels the read in the sandbox and ends the response.
 */
export function destroyWhenIdle(stream: Readable, idleMs: number): void {
  const timer = setTimeout(() => {
    stream.destroy(
      new MagsError(`The download made no progress for ${idleMs} ms and was cut off.`, {
        code: 'download_idle',
        retryable: true,
      }),
    );
  }, idleMs);
  timer.unref();
  // Only a listener: the web stream that reads this one (Readable.toWeb) already drives it with
  // 'data' and pause(), so this adds no flowing of its own and keeps the backpressure.
  stream.on('data', () => timer.refresh());
  stream.once('close', () => clearTimeout(timer));
}
