import type { RunJobBody } from '../api/schemas.ts';
import type { JobRecord } from '../state/state-repository.ts';
import { checkDiskRequest } from './disk-limits.ts';
import { toArgv } from './routes/command-argv.ts';
import type { ServerServices } from './server-env.ts';

/**
 * Starts a run job as `POST /v1/jobs` does: the workspace disk checked against the server's
 * limits, then the job submitted. The one path for a run that a client asks for and for a cron
 * job's run (`origin`), so both get the same checks and limits.
 */
export async function submitRunJob(
  { jobs, context, disks }: Pick<ServerServices, 'jobs' | 'context' | 'disks'>,
  owner: string,
  body: RunJobBody,
  options: { origin?: string } = {},
): Promise<JobRecord> {
  // A run that writes a workspace makes or grows its disk; a read-only or throw-away one does not.
  const writes = body.ephemeral || body.version !== undefined ? undefined : body.workspace;
  await checkDiskRequest(context, disks, owner, {
    workspace: writes,
    diskMiB: body.limits?.diskMiB,
  });
  const { command, ...rest } = body;
  return jobs.submitRun(owner, { ...rest, argv: toArgv(command) }, options);
}
