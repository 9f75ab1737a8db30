import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { selectRuntime } from '../context/select-runtime.ts';
import type { ExecRequest, SandboxProcess } from '../runtimes/runtime.ts';
import { sandboxEnvironment } from '../sandboxes/sandbox-spec.ts';
import type { JobRecord } from '../state/state-repository.ts';
import { followExec } from './follow-exec.ts';
import { durableKey } from './job-adoption.ts';
import type { JobBody } from './job-body.ts';
import type { ExecJobRequest } from './job-manager-options.ts';
import { newJob } from './new-job.ts';

/**
 * An exec job of `owner` in the long-lived sandbox `sandbox`: its record, and its body, which
 * runs the command through `start` (durable, keyed by the job's id, where the runtime's sandboxes
 * outlive this process) and follows it to its end or timeout.
 */
export function planExecJob(
  context: MagsContext,
  instance: ServerInstance | undefined,
  job: { owner: string; sandbox: string; request: ExecJobRequest; killGraceMs: number },
  start: (request: ExecRequest) => SandboxProcess,
): { record: JobRecord; body: JobBody } {
  const { request } = job;
  const env = sandboxEnvironment(request.env ?? {});
  const timeoutMs = request.timeoutMs ?? context.defaults.timeoutMs;
  const runtime = selectRuntime(context, request.runtime);
  const record: JobRecord = {
    ...newJob(job.owner, 'exec', request.argv, null, job.sandbox, runtime.name),
    ...instance,
    // What a server that continues it after a restart needs (StoredExecOptionsSchema).
    runOptions: { timeoutSeconds: timeoutMs / 1000 },
  };
  const body: JobBody = (log, signal) => {
    // Durable (keyed by the job id): a restarted server picks the command up again.
    const key = durableKey(runtime, record.id);
    const command = start({
      argv: request.argv,
      env,
      cwd: request.cwd ?? '/workspace',
      ...(key ? { key } : {}),
    });
    return followExec(command, log, signal, {
      timeoutMs,
      remainingMs: timeoutMs,
      killGraceMs: job.killGraceMs,
    });
  };
  return { record, body };
}
