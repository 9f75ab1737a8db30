/**
 * One project's imports, refreshes, forks and deletion, one at a time: a queue per
 * owner+project in this process. Several server processes on one host (or several hosts) sharing
 * a project would need the lock in shared state or on the workspace (its flock); today a project
 * workspace is written only through the server process that serves its owner.
 */
export class ProjectLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(owner: string, project: string, work: () => Promise<T>): Promise<T> {
    const key = `${owner}\u0000${project}`;
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
