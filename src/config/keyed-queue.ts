/**
 * Work run one at a time per key, in the order it was asked for (a promise chain per key): the
 * next holder of a key starts once the previous one settled, whether it resolved or rejected.
 * Keys with nothing queued hold no memory. Not re-entrant: work that holds a key never asks for
 * it again (it would wait for itself).
 */
export class KeyedQueue {
  /** Per key: the last holder's turn, so the next one waits for it. */
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `work` once every earlier holder of `key` is done; its result is returned. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const turn = previous.catch(() => {}).then(work);
    this.#tails.set(key, turn);
    const settle = () => {
      if (this.#tails.get(key) === turn) this.#tails.delete(key);
    };
    turn.then(settle, settle);
    return turn;
  }
}
