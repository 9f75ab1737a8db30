/** At most `limit` holders at a time; the rest wait in arrival order. */
export class Semaphore {
  readonly limit: number;
  #active = 0;
  #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async acquire(): Promise<() => void> {
    if (this.#active >= this.limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter, so #active stays counted.
      if (next) next();
      else this.#active--;
    };
  }
}
