import type { HostRecord } from '../state/state-repository.ts';
import { isWarmAt } from './warm-workspace-versions.ts';

/** What placing one run job looks at. */
export interface PlacementRequest {
  /** The runtime it runs on (a host without it is never picked). */
  runtime: string;
  /** The storage name of the workspace it writes or reads (warm affinity), if any. */
  workspace: string | undefined;
  /**
   * The store's latest version of that workspace, when known: a host whose parked copy is older
   * is not warm for it (it would refuse the run). Undefined: warm by name.
   */
  storeVersion?: number;
  /** The host of the server placing it, when that server is a host (ties go to it). */
  self: string | undefined;
  now: number;
  /** A host whose heartbeat is older than this is not live, whether or not it was marked gone. */
  hostTimeoutMs: number;
}

/** Where a job goes, and why (shown in the server's log and tests). */
export interface Placement {
  host: HostRecord;
  reason: 'warm' | 'least-loaded' | 'all-full';
}

/** A host that takes work now: not marked gone, and heard from within the timeout. */
export function isLiveHost(host: HostRecord, now: number, hostTimeoutMs: number): boolean {
  return hostState(host, now, hostTimeoutMs) === 'live';
}

/**
 * The one definition of a host's liveness (placement, `GET /v1/hosts`, forwarding's reasons):
 * `gone` once marked gone, `silent` when its heartbeat is older than the timeout (or unreadable),
 * else `live`.
 */
export function hostState(
  host: Pick<HostRecord, 'goneAt' | 'heartbeatAt'>,
  now: number,
  hostTimeoutMs: number,
): 'live' | 'silent' | 'gone' {
  if (host.goneAt !== null) return 'gone';
  return now - Date.parse(host.heartbeatAt) <= hostTimeoutMs ? 'live' : 'silent';
}

/**
 * Picks the host a run job goes to (pure: the caller reads the hosts). Among live hosts with the
 * job's runtime: one with room (runningJobs < maxJobs) that has the workspace parked warm at the
 * store's latest version (a warm re-run costs a fraction of a cold mount, GUIDE §3), else the one with room that is least loaded
 * (running / max), ties to `self`, then by id so every server decides alike. When every such host
 * is full, the least loaded one anyway: the job waits in that host's queue, as it would on one
 * host. Undefined: no live host has the runtime.
 */
export function placeJob(hosts: HostRecord[], request: PlacementRequest): Placement | undefined {
  const candidates = hosts.filter(
    (host) =>
      isLiveHost(host, request.now, request.hostTimeoutMs) &&
      host.runtimes.includes(request.runtime),
  );
  if (candidates.length === 0) return undefined;
  const ordered = [...candidates].sort((a, b) => compareLoad(a, b, request.self));
  const withRoom = ordered.filter((host) => host.runningJobs < host.maxJobs);
  const workspace = request.workspace;
  if (workspace !== undefined) {
    const warm = withRoom.find((host) =>
      isWarmAt(host.warmWorkspaces, workspace, request.storeVersion),
    );
    if (warm) return { host: warm, reason: 'warm' };
  }
  const first = withRoom[0];
  if (first) return { host: first, reason: 'least-loaded' };
  return { host: ordered[0] as HostRecord, reason: 'all-full' };
}

function compareLoad(a: HostRecord, b: HostRecord, self: string | undefined): number {
  const load = (host: HostRecord) => host.runningJobs / Math.max(host.maxJobs, 1);
  const difference = load(a) - load(b);
  if (difference !== 0) return difference;
  if (a.id === self) return -1;
  if (b.id === self) return 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
