import { RateLimitError } from '../errors/mags-error.ts';

/**
 * How many sandboxes one owner may have running or sleeping, counting starts under way: a start
 * is reserved before its first await, so a burst of creates cannot overshoot.
 */
export class OwnerStartLimit {
  /** Sandboxes one owner may have running or sleeping; Infinity: no limit. */
  readonly maxPerOwner: number;
  /** Starts under way per owner: they count against the limit before they are live. */
  readonly #starting = new Map<string, number>();

  constructor(maxPerOwner: number) {
    this.maxPerOwner = maxPerOwner;
  }

  /**
   * Reserves a start for `owner`, who has `running` sandboxes live now; throws a 429 when that
   * is the most one owner may. Call the returned function when the start has ended either way.
   */
  reserve(owner: string, running: number): () => void {
    const starting = this.#starting.get(owner) ?? 0;
    const live = running + starting;
    if (live >= this.maxPerOwner) {
      throw new RateLimitError(
        `Owner ${JSON.stringify(owner)} already has ${live} sandboxes running, the most one owner may.`,
        {
          code: 'owner_limit_reached',
          limit: 'sandboxes',
          limitValue: this.maxPerOwner,
          // Nothing frees one by itself soon (sleeping ones still count): ask again later.
          retryAfterSeconds: 30,
          hint: 'Stop or delete one you no longer use (mags list --sandboxes; mags stop NAME).',
        },
      );
    }
    this.#starting.set(owner, starting + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#starting.get(owner) ?? 1) - 1;
      if (left === 0) this.#starting.delete(owner);
      else this.#starting.set(owner, left);
    };
  }
}
