/**
 * The resource URI of a job's full log, registered by mcp-resources.ts (same format there): the
 * run_command result names it so the model or the client can read what truncation left out.
 */
export const jobLogUri = (jobId: string) => `mags://jobs/${encodeURIComponent(jobId)}/log`;
