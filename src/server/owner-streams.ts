import { RateLimitError } from '../errors/mags-error.ts';
import { environmentWholeNumber } from './environment-whole-number.ts';

/** Long-lived answers one owner may hold open at once, unless MAGS_MAX_STREAMS_PER_OWNER says. */
export const defaultMaxStreamsPerOwner = 64;

/** The limit from MAGS_MAX_STREAMS_PER_OWNER (a whole number, at least 1), else the default. */
export function maxStreamsPerOwnerFrom(environment: NodeJS.ProcessEnv): number {
  return (
    environmentWholeNumber(environment, 'MAGS_MAX_STREAMS_PER_OWNER') ?? defaultMaxStreamsPerOwner
  );
}

/**
 * The long-lived answers each owner holds open (followed lists and events, job logs, pool
 * samples, shells): each holds a connection, a subscription and its buffers for as long as its
 * client stays, so one owner may hold `maxPerOwner` of them and no more; one more is a 429.
 */
export class OwnerStreams {
  readonly maxPerOwner: number;
  readonly #open = new Map<string, number>();

  constructor(maxPerOwner: number) {
    this.maxPerOwner = maxPerOwner;
  }

  /** How many `owner` holds open now. */
  count(owner: string): number {
    return this.#open.get(owner) ?? 0;
  }

  /**
   * Counts one more for `owner`, or throws a 429 when it holds the most already. Returns the
   * release: call it once the answer has ended (more calls do nothing).
   */
  open(owner: string): () => void {
    const open = this.count(owner);
    if (open >= this.maxPerOwner) {
      throw new RateLimitError(
        `Owner ${JSON.stringify(owner)} already has ${open} streams open, the most one owner may.`,
        {
          code: 'owner_limit_reached',
          limit: 'streams',
          limitValue: this.maxPerOwner,
          // A stream frees its slot as soon as its client goes away.
          retryAfterSeconds: 5,
          hint: 'Close streams you no longer read (dashboard tabs, `--follow` commands, shells); each page follows its lists on one stream.',
        },
      );
    }
    this.#open.set(owner, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.count(owner) - 1;
      if (left <= 0) this.#open.delete(owner);
      else this.#open.set(owner, left);
    };
  }
}
