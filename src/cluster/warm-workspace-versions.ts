/**
 * A host's heartbeat names each workspace it has parked warm with the store version its copy is
 * at, as `NAME@VERSION` (a workspace name never holds "@": workspace-name.ts), so that placement
 * sends a run to a warm host only when that copy is the store's latest. A host whose copy is
 * behind refuses the run (`sync_conflict`, run-command.ts `restoreIfNeeded`): warm there is
 * worse than cold. An entry without a version (an older server) matches by name only.
 */
export interface WarmEntry {
  workspace: string;
  /** The store version the parked copy was restored from or last synced as (0: never synced). */
  version: number | undefined;
}

export function formatWarmEntry(workspace: string, version: number): string {
  return `${workspace}@${version}`;
}

export function parseWarmEntry(entry: string): WarmEntry {
  const at = entry.lastIndexOf('@');
  if (at < 0) return { workspace: entry, version: undefined };
  const version = Number(entry.slice(at + 1));
  return {
    workspace: entry.slice(0, at),
    version: Number.isSafeInteger(version) ? version : undefined,
  };
}

/**
 * Whether one of `entries` is `workspace` parked at `storeVersion` or later. `storeVersion`
 * undefined: the store's latest is not known (no store, or never synced): by name only.
 */
export function isWarmAt(
  entries: string[],
  workspace: string,
  storeVersion: number | undefined,
): boolean {
  return entries.some((entry) => {
    const parsed = parseWarmEntry(entry);
    if (parsed.workspace !== workspace) return false;
    if (storeVersion === undefined) return true;
    return parsed.version !== undefined && parsed.version >= storeVersion;
  });
}

/**
 * The versions of this host's parked copies, for its heartbeat. The heartbeat is built
 * synchronously and a copy's version is on disk, so each is read once when its workspace is
 * first seen parked and the workspace is named from the next beat on (a beat later than before,
 * never with a wrong version). A workspace that leaves the cache (a run takes its sandbox, and
 * may push a new version) is forgotten, so its next parking reads the version again.
 */
export class WarmWorkspaceVersions {
  readonly #read: (workspace: string) => Promise<number | undefined>;
  readonly #known = new Map<string, number>();
  readonly #reading = new Set<string>();

  /** `read`: the parked copy's store version (`remoteVersion`; undefined: never synced). */
  constructor(read: (workspace: string) => Promise<number | undefined>) {
    this.#read = read;
  }

  /** The heartbeat's entries for the workspaces parked now. */
  entries(parked: string[]): string[] {
    const now = new Set(parked);
    for (const workspace of this.#known.keys()) {
      if (!now.has(workspace)) this.#known.delete(workspace);
    }
    const entries: string[] = [];
    for (const workspace of parked) {
      const version = this.#known.get(workspace);
      if (version !== undefined) entries.push(formatWarmEntry(workspace, version));
      else this.#readSoon(workspace);
    }
    return entries;
  }

  #readSoon(workspace: string): void {
    if (this.#reading.has(workspace)) return;
    this.#reading.add(workspace);
    this.#read(workspace)
      .then((version) => this.#known.set(workspace, version ?? 0))
      .catch(() => {}) // unread: named once a later read succeeds
      .finally(() => this.#reading.delete(workspace));
  }
}
