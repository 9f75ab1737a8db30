import { tooManyUpgrades } from './url-proxy-errors.ts';

/** WebSockets (upgrades) one sandbox may hold open through its URLs at once. */
export const maxUpgradesPerSandbox = 64;

/**
 * The upgraded connections open now, per owner and sandbox: each holds a relay process in the
 * sandbox (whose agent runs at most 256), so a public URL's visitors cannot take them all.
 */
export class UpgradeCounts {
  readonly #open = new Map<string, number>();

  /** Counts one more, or throws a 503 (retry later) at the most; returns its release. */
  open(owner: string, sandbox: string): () => void {
    const key = `${owner}\0${sandbox}`;
    const open = this.#open.get(key) ?? 0;
    if (open >= maxUpgradesPerSandbox) throw tooManyUpgrades(sandbox, maxUpgradesPerSandbox);
    this.#open.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left <= 0) this.#open.delete(key);
      else this.#open.set(key, left);
    };
  }
}
