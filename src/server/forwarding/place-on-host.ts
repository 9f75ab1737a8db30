import type { HostRecord } from '../../state/state-repository.ts';
import { NoHostAvailableError } from './forward-errors.ts';
import { hostUnavailableReason } from './host-liveness.ts';

export interface PlacementRequest {
  /** The runtime asked for; undefined: any host (it uses its default). */
  runtime?: string;
  /** The workspace's storage name (`ownerWorkspaceName`): a host with it parked warm is preferred. */
  warmWorkspace?: string;
}

/**
 * The host for new work among `hosts`: live (not gone, beating, reachable), running the runtime
 * asked for and with room (running jobs under its most); among those, one with the workspace
 * parked warm first (a re-run there skips the mount and restore), then the one with the most
 * room, then by id (the same state always gives the same answer). Throws NoHostAvailableError
 * saying why each host was passed over.
 */
export function placeOnHost(
  hosts: readonly HostRecord[],
  request: PlacementRequest,
  options: { nowMs: number; staleAfterMs: number },
): HostRecord {
  const passedOver: string[] = [];
  const candidates = hosts.filter((host) => {
    const unavailable = hostUnavailableReason(host, options.nowMs, options.staleAfterMs);
    const reason =
      unavailable ??
      (request.runtime && !host.runtimes.includes(request.runtime)
        ? `it has no ${request.runtime} runtime`
        : host.runningJobs >= host.maxJobs
          ? `it is full (${host.runningJobs} of ${host.maxJobs} jobs)`
          : undefined);
    if (reason) passedOver.push(`${host.id}: ${reason}`);
    return reason === undefined;
  });
  const warm = (host: HostRecord) =>
    request.warmWorkspace !== undefined && host.warmWorkspaces.includes(request.warmWorkspace);
  const [best] = candidates.sort(
    (a, b) =>
      Number(warm(b)) - Number(warm(a)) ||
      b.maxJobs - b.runningJobs - (a.maxJobs - a.runningJobs) ||
      a.id.localeCompare(b.id),
  );
  if (best) return best;
  throw new NoHostAvailableError(
    passedOver.length === 0 ? 'no host is registered' : passedOver.join('; '),
  );
}
