import type { ServerInstance } from '../config/server-instance.ts';
import type { JobManager } from '../jobs/job-manager.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';

/**
 * A host leaving cleanly: what was placed on it and not yet taken is claimed and failed with why,
 * rather than left queued for a host that will no longer be listed. `changed`: each failed job.
 */
export async function failUntakenJobs(
  repository: StateRepository,
  instance: ServerInstance,
  jobs: JobManager,
  changed: (record: JobRecord) => void,
): Promise<void> {
  const reason = `host ${instance.host} shut down before it started this job: run it again (it goes to a live host)`;
  for (;;) {
    const untaken = await repository.claimQueuedJobs(instance.host, instance.server, 100);
    for (const record of untaken) {
      await jobs.failAdopted(record, reason);
      changed(record);
    }
    if (untaken.length < 100) return;
  }
}
