/**
 * One owner's uploads as this process counts them: those waiting (as of the last look at the
 * disk, kept current by every change this process makes) and those still streaming in.
 */
export interface OwnerLedger {
  stagedCount: number;
  stagedBytes: number;
  inFlightCount: number;
  inFlightBytes: number;
  setStaged(staged: { count: number; bytes: number }): void;
  /**
   * Runs `action` alone among this owner's locked actions (a look at the disk and what is
   * decided from it, a file appearing or being claimed), in the order they were asked for.
   */
  locked<T>(action: () => Promise<T>): Promise<T>;
}

/** The ledgers of every owner with uploads, made on first use. */
export class UploadLedger {
  readonly #owners = new Map<string, OwnerLedger>();

  of(owner: string): OwnerLedger {
    let ledger = this.#owners.get(owner);
    if (!ledger) {
      ledger = newLedger();
      this.#owners.set(owner, ledger);
    }
    return ledger;
  }
}

function newLedger(): OwnerLedger {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    stagedCount: 0,
    stagedBytes: 0,
    inFlightCount: 0,
    inFlightBytes: 0,
    setStaged(staged) {
      this.stagedCount = staged.count;
      this.stagedBytes = staged.bytes;
    },
    locked(action) {
      const run = tail.then(action, action);
      tail = run.catch(() => {});
      return run;
    },
  };
}
