/**
 * One project's imports, refreshes, forks and deletion, one at a time: a queue per
 * owner+project in this process. Several server processes on one host (or several hosts) sharing
 * a project would need the lock in shared state or on the workspace (its flock); today a project
 * workspace is written only through the server process that serves its owner.
 */
export class ProjectLocks {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `work` in its turn; one that gives up waiting (`signal`) throws its reason, unrun. */
  async run<T>(
    owner: string,
    project: string,
    work: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const key = `${owner}\u0000${project}`;
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    try {
      await untilAborted(previous, signal);
    } catch (error) {
      // Its turn passes at once: the ones after it still wait for those before.
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
      throw error;
    }
    try {
      return await work();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/** `promise`, or the signal's reason as soon as it aborts (before it settles). */
function untilAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
