import type { HostLost } from './host-presence.ts';

/** What a host logs when its heartbeat was refused: declared gone, or its id taken. */
export function hostLostMessage(host: string, how: HostLost, hostTimeoutMs: number): string {
  const timeout = `${hostTimeoutMs / 1000} s`;
  return how.kind === 'replaced'
    ? `!!! this host's id (${host}) was taken by another server process (${how.by}) after this one was silent longer than ${timeout}: this one takes no more work and stops the jobs and sandboxes it still ran (their records are that process's now). Give this server another --host-id to join again.`
    : `!!! this host (${host}) was declared gone by another server: it was silent longer than ${timeout} and its jobs were failed. It takes no more work and stops the jobs it still ran (their records keep that reason). Restart this server to join again.`;
}

/** What a host logs when it could not record a job's end for the host timeout. */
export function cannotRecordMessage(
  host: string,
  jobId: string,
  error: unknown,
  hostTimeoutMs: number,
): string {
  const timeout = `${hostTimeoutMs / 1000} s`;
  return `!!! this host (${host}) cannot record the end of job ${jobId} in the state (${(error as Error).message}, for ${timeout}): it stops heartbeating and lets go of its jobs, so that the other servers fail them once it has been silent ${timeout}, rather than leave them running forever. Restart this server once the state answers again.`;
}
