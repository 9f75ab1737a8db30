import { JobLog } from '../jobs/job-log.ts';
import type { HostRecord, StateRepository, TakenOver } from '../state/state-repository.ts';

/** Why a host's work was failed: what happened, and where its persistent workspaces are. */
export function goneHostReason(
  host: Pick<HostRecord, 'id' | 'heartbeatAt'>,
  hostTimeoutMs: number,
) {
  return `host ${host.id} stopped heartbeating at ${host.heartbeatAt} (timeout ${hostTimeoutMs / 1000} s): its jobs were failed and its sandboxes stopped; persistent workspaces restore from the store on another host`;
}

/** One host found silent and marked gone by this sweep. */
export interface SweptHost extends TakenOver {
  host: string;
  reason: string;
}

/**
 * Marks every host silent for longer than `hostTimeoutMs` gone (but `self`): its queued and
 * running jobs failed and its sandboxes stopped with the reason (`markHostGone`, a
 * compare-and-set, so of several servers sweeping at once one does it), the reason appended to
 * each job's output, and every process told (`job_changed`, `hosts`) so that followers anywhere
 * end. Returns what this sweep changed.
 */
export async function sweepGoneHosts(
  repository: StateRepository,
  options: { now: number; hostTimeoutMs: number; self?: string },
): Promise<SweptHost[]> {
  const swept: SweptHost[] = [];
  for (const host of await repository.listHosts()) {
    if (host.goneAt !== null || host.id === options.self) continue;
    if (options.now - Date.parse(host.heartbeatAt) <= options.hostTimeoutMs) continue;
    const reason = goneHostReason(host, options.hostTimeoutMs);
    const at = new Date(options.now).toISOString();
    const taken = await repository.markHostGone(
      host.id,
      { server: host.server, heartbeatAt: host.heartbeatAt },
      at,
      reason,
    );
    if (!taken) continue; // it beat meanwhile, or another server marked it first
    for (const job of taken.jobs) {
      // Said in its output too, so that `mags logs` shows why it ended where it stopped.
      const log = new JobLog(repository, job.id, { startOffset: job.logBytes });
      log.append('stderr', Buffer.from(`\nmags: ${reason}\n`));
      await log.finish().catch(() => {});
      await repository.notify('job_changed', `${job.id}:${job.owner}`);
    }
    await repository.notify('hosts', host.id);
    swept.push({ host: host.id, reason, ...taken });
  }
  return swept;
}
