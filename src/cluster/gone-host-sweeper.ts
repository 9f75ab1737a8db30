import type { HostRecord, StateRepository, TakenOver } from '../state/state-repository.ts';

/** Why a host's work was failed: what happened, and where its persistent workspaces are. */
export function goneHostReason(
  host: Pick<HostRecord, 'id' | 'heartbeatAt'>,
  hostTimeoutMs: number,
) {
  return `host ${host.id} stopped heartbeating at ${host.heartbeatAt} (timeout ${hostTimeoutMs / 1000} s): its jobs were failed and its sandboxes stopped; persistent workspaces restore from the store on another host`;
}

/**
 * What one server has seen of each host's heartbeat: its value, and when (this server's
 * monotonic clock, `performance.now()`) it was first seen with that value. Silence is judged on
 * this server's own clock, never by comparing another machine's timestamps with its own: a host
 * whose clock is off is not declared gone for it.
 */
export class HeartbeatObservations {
  readonly #seen = new Map<string, { heartbeatAt: string; sinceMs: number; changed: boolean }>();

  /** How long, on this server's clock, the host's heartbeat has stayed what it is now. */
  unchangedForMs(host: Pick<HostRecord, 'id' | 'heartbeatAt'>, nowMs: number): number {
    const seen = this.#seen.get(host.id);
    if (seen?.heartbeatAt === host.heartbeatAt) return nowMs - seen.sinceMs;
    this.#seen.set(host.id, {
      heartbeatAt: host.heartbeatAt,
      sinceMs: nowMs,
      changed: seen !== undefined,
    });
    return 0;
  }

  /**
   * The heartbeat's age as placement takes it: as watched (`unchangedForMs`) once this server has
   * seen it change; before that, by its timestamp against `wallNowMs` too, so that a server just
   * started sends no work to a host whose record says it went silent long ago.
   */
  ageMs(host: Pick<HostRecord, 'id' | 'heartbeatAt'>, nowMs: number, wallNowMs: number): number {
    const unchanged = this.unchangedForMs(host, nowMs);
    if (this.#seen.get(host.id)?.changed) return unchanged;
    return Math.max(unchanged, wallNowMs - Date.parse(host.heartbeatAt));
  }

  /**
   * Forgets everything (the state could not be read: the hosts' beats may have failed as this
   * server's reads did, so silence is observed afresh once it answers again).
   */
  clear(): void {
    this.#seen.clear();
  }
}

/** One host found silent and marked gone by this sweep. */
export interface SweptHost extends TakenOver {
  host: string;
  reason: string;
}

/**
 * Marks every host silent for longer than `hostTimeoutMs` gone (but `self`), silent meaning its
 * heartbeat unchanged for that long as `observed` by this server (`nowMs` its monotonic clock;
 * a server that just started observes for a timeout before it can declare anything): its queued and
 * running jobs failed and its sandboxes stopped with the reason (`markHostGone`, a
 * compare-and-set, so of several servers sweeping at once one does it), and every process told
 * (`job_changed`, `hosts`) so that followers anywhere end. Returns what this sweep changed.
 */
export async function sweepGoneHosts(
  repository: StateRepository,
  options: {
    observed: HeartbeatObservations;
    nowMs: number;
    hostTimeoutMs: number;
    self?: string;
  },
): Promise<SweptHost[]> {
  const swept: SweptHost[] = [];
  let hosts: HostRecord[];
  try {
    hosts = await repository.listHosts();
  } catch (error) {
    options.observed.clear();
    throw error;
  }
  for (const host of hosts) {
    if (host.goneAt !== null || host.id === options.self) continue;
    if (options.observed.unchangedForMs(host, options.nowMs) <= options.hostTimeoutMs) continue;
    const reason = goneHostReason(host, options.hostTimeoutMs);
    const at = new Date().toISOString();
    const taken = await repository.markHostGone(
      host.id,
      { server: host.server, heartbeatAt: host.heartbeatAt },
      at,
      reason,
    );
    if (!taken) continue; // it beat meanwhile, or another server marked it first
    // The reason is in each job's record (its message, which `mags logs -f` and `mags run`
    // print), not appended to its output: a host that was only frozen may still store output it
    // held, at the offsets it owns, and an appended line would collide with it.
    for (const job of taken.jobs) await repository.notify('job_changed', `${job.id}:${job.owner}`);
    await repository.notify('hosts', host.id);
    swept.push({ host: host.id, reason, ...taken });
  }
  return swept;
}
