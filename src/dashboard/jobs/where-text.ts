import type { Job } from '../../api/schemas.ts';

/** Where a job ran: a long-lived sandbox (exec), a workspace (run), or a scratch sandbox. */
export function whereText(job: Job): string {
  if (job.sandbox) return `sandbox ${job.sandbox}`;
  if (job.workspace) return `workspace ${job.workspace}`;
  return 'scratch';
}
