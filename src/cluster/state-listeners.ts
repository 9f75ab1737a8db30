import type { StateChannel, StateRepository } from '../state/state-repository.ts';

type Listener = (payload: string) => void;

/** What `StateListeners.watch` returns. */
export interface KeyWatch {
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  close(): void;
}

/**
 * One `listen` per channel per process, shared by everyone in it who waits on that channel
 * (PostgreSQL holds a connection per LISTEN session; a follower per connection would exhaust the
 * pool). Listeners subscribe by key (a job id, a host id): a payload `KEY` or `KEY:REST` reaches
 * the listeners of `KEY`, and those of `*` (every payload).
 */
export class StateListeners {
  readonly #repository: StateRepository;
  readonly #byChannel = new Map<StateChannel, Map<string, Set<Listener>>>();
  readonly #listening = new Map<StateChannel, Promise<() => Promise<void>>>();
  #closed = false;

  constructor(repository: StateRepository) {
    this.#repository = repository;
  }

  /**
   * Calls `listener` with each payload for `key` on `channel` from when the returned promise
   * settles. Resolves to the unsubscribe.
   */
  async on(channel: StateChannel, key: string, listener: Listener): Promise<() => void> {
    let keys = this.#byChannel.get(channel);
    if (!keys) {
      keys = new Map();
      this.#byChannel.set(channel, keys);
    }
    let listeners = keys.get(key);
    if (!listeners) {
      listeners = new Set();
      keys.set(key, listeners);
    }
    listeners.add(listener);
    const unsubscribe = () => {
      listeners.delete(listener);
      if (listeners.size === 0 && keys.get(key) === listeners) keys.delete(key);
    };
    try {
      await this.#listen(channel);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  /**
   * Watches `key` on `channels` until closed: `wait` resolves at once when a payload came since
   * the last wait (none is missed between reading the state and waiting), else at the next one,
   * after `timeoutMs` (the slow poll that covers a notification lost with a dropped connection),
   * or when `signal` aborts.
   */
  async watch(channels: StateChannel[], key: string): Promise<KeyWatch> {
    let pending = false;
    let wake: (() => void) | undefined;
    const unsubscribes = await Promise.all(
      channels.map((channel) =>
        this.on(channel, key, () => {
          pending = true;
          wake?.();
        }),
      ),
    );
    return {
      wait: async (timeoutMs, signal) => {
        if (pending || signal?.aborted) {
          pending = false;
          return;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, timeoutMs);
          signal?.addEventListener('abort', done, { once: true });
          wake = done;
          function done() {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          }
        });
        pending = false;
      },
      close: () => {
        for (const unsubscribe of unsubscribes) unsubscribe();
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const listening = [...this.#listening.values()];
    this.#listening.clear();
    for (const started of listening) {
      await started.then((unlisten) => unlisten()).catch(() => {});
    }
  }

  #listen(channel: StateChannel): Promise<() => Promise<void>> {
    if (this.#closed) return Promise.resolve(async () => {});
    let started = this.#listening.get(channel);
    if (!started) {
      started = this.#repository.listen(channel, (payload) => this.#dispatch(channel, payload));
      // A failed LISTEN is tried again by the next subscriber (the slow poll covers meanwhile).
      started.catch(() => this.#listening.delete(channel));
      this.#listening.set(channel, started);
    }
    return started;
  }

  #dispatch(channel: StateChannel, payload: string): void {
    const colon = payload.indexOf(':');
    const key = colon < 0 ? payload : payload.slice(0, colon);
    const keys = this.#byChannel.get(channel);
    const listeners = [...(keys?.get(key) ?? []), ...(key === '*' ? [] : (keys?.get('*') ?? []))];
    for (const listener of listeners) {
      try {
        listener(payload);
      } catch {} // one waiter's mistake is not the others'
    }
  }
}
