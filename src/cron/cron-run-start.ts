import type { RunJobBody } from '../api/schemas.ts';
import { MagsError } from '../errors/mags-error.ts';
import type {
  CronJobRecord,
  CronRunRecord,
  JobRecord,
  StateRepository,
} from '../state/state-repository.ts';
import { cronJobBody, cronOrigin } from './cron-job-body.ts';

/**
 * Submits a started run's job (as `POST /v1/jobs` does) and records the job on the run; when
 * the submission is refused, the run becomes failed to start with the error's message and hint
 * (what the owner needs to fix it). A job submitted but not recorded (the state refused the
 * update) is left for the next start to find by its origin: it is not a failure to start.
 */
export async function startCronRun(
  record: CronJobRecord,
  run: CronRunRecord,
  parts: {
    repository: StateRepository;
    submit(owner: string, body: RunJobBody, options: { origin: string }): Promise<JobRecord>;
    log(line: string): void;
  },
): Promise<void> {
  let job: JobRecord;
  try {
    job = await parts.submit(record.owner, cronJobBody(record), { origin: cronOrigin(record) });
  } catch (error) {
    run.status = 'failed_to_start';
    run.reason = failureReason(error);
    await parts.repository.updateCronRun(run.id, { status: run.status, reason: run.reason });
    return;
  }
  run.jobId = job.id;
  try {
    await parts.repository.updateCronRun(run.id, { jobId: job.id });
  } catch (error) {
    parts.log(
      `cron job ${record.name} (${record.owner}): job ${job.id} started, but recording it on run ${run.id} failed (${(error as Error).message}); the next start finds it by its origin`,
    );
  }
}

/** An error as a run's reason: its message, and its hint when it has one. */
export function failureReason(error: unknown): string {
  if (error instanceof MagsError && error.hint) return `${error.message} — ${error.hint}`;
  return error instanceof Error ? error.message : String(error);
}
