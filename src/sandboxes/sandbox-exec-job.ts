import { withEgressBlocked } from '../jobs/egress-blocked-reporter.ts';
import type { JobManager } from '../jobs/job-manager.ts';
import type { JobRecord } from '../state/state-repository.ts';
import type { SandboxUse } from './sandbox-use.ts';

/** What an exec job needs of the job system: submit it, and learn when it has ended. */
export type ExecJobs = Pick<JobManager, 'submitExec' | 'wait'>;

/**
 * Submits an exec job running in the used sandbox, which stays in use (awake) until the job
 * ends; a refused submission releases it at once.
 */
export async function submitExecJob(
  use: SandboxUse,
  job: {
    owner: string;
    name: string;
    request: Parameters<JobManager['submitExec']>[2];
    jobs: ExecJobs;
  },
): Promise<JobRecord> {
  const { owner, name, request, jobs } = job;
  let record: JobRecord;
  try {
    record = await jobs.submitExec(owner, name, request, (exec) =>
      withEgressBlocked(use.sandbox.exec(exec), use.sandbox),
    );
  } catch (error) {
    use.release();
    throw error;
  }
  jobs.wait(owner, record.id).then(use.release, use.release);
  return record;
}
