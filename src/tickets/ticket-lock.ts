/**
 * One state-changing operation per ticket at a time, in this process: run, stop, comment,
 * request-changes, approve, close, the queue's grant and an attempt's end each hold the ticket's
 * lock while they read its status and write the next one, so two of them never act on the same
 * status (two `run`s queue one attempt; a `close` during an `approve` waits for it and then sees
 * `approved`). Not re-entrant: code that holds the lock never asks for it again.
 *
 * Future work: with several server processes on one state repository (they share it, each works
 * its own host's tickets), two processes can still act on one ticket at once; the repository
 * would need a compare-and-set update (`status` expected → next) to close that gap.
 */
export class TicketLock {
  /** Per ticket: the last holder's turn, so the next one waits for it. */
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `action` once every earlier holder of `id`'s lock is done; its result is returned. */
  run<T>(id: string, action: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(id) ?? Promise.resolve();
    const turn = previous.catch(() => {}).then(action);
    this.#tails.set(id, turn);
    const settle = () => {
      if (this.#tails.get(id) === turn) this.#tails.delete(id);
    };
    turn.then(settle, settle);
    return turn;
  }
}
