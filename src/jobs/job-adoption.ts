import type { StoredRunOptions } from '../api/run-options.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { selectRuntime } from '../context/select-runtime.ts';
import { MagsError } from '../errors/mags-error.ts';
import { sandboxOperation } from '../runtimes/require-capability.ts';
import type { Runtime, Sandbox } from '../runtimes/runtime.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';
import { continueRun, lostCommand, lostOutputNotice } from './continue-run.ts';
import { followExec } from './follow-exec.ts';
import { type JobBody, logWriter } from './job-body.ts';
import { JobLog } from './job-log.ts';
import type { JobManagerOptions } from './job-manager-options.ts';
import { failedOutcome, type Outcome, outcome } from './job-outcome.ts';

/**
 * What taking over a gone server process's jobs (recovery after a restart) needs of the job
 * manager: where jobs are stored, and a way to track an adopted job as running.
 */
export interface AdoptionHost {
  readonly context: MagsContext;
  readonly repository: StateRepository;
  readonly killGraceMs: number;
  /** Tracks a job that already runs: no queue, but it counts against its owner's running jobs. */
  track(record: JobRecord, body: JobBody): JobRecord;
}

/**
 * A durable exec's key (the job's id), on a runtime whose sandboxes outlive this process
 * (capability reattach); elsewhere none (the command ends with its server anyway).
 */
export function durableKey(runtime: Runtime, id: string): string | undefined {
  return runtime.capabilities.reattach ? id : undefined;
}

/** The runtime a job runs on, as its record says (`namespace` for one from before runtimes). */
export function jobRuntime(context: MagsContext, record: JobRecord): Runtime {
  return selectRuntime(context, record.runtime ?? 'namespace');
}

/**
 * Continues an exec job a gone server process started, in its sandbox (attached again): the
 * command's output is replayed from where the stored log ends. Its timeout counts from the
 * job's start (`stored`: its options as `StoredExecOptionsSchema` reads them).
 */
export function adoptExec(
  host: AdoptionHost,
  record: JobRecord,
  sandbox: Sandbox,
  stored: { timeoutSeconds: number },
): JobRecord {
  const timeoutMs = stored.timeoutSeconds * 1000;
  const endsAt = Date.parse(record.startedAt ?? record.createdAt) + timeoutMs;
  return host.track(record, async (log, signal) => {
    const offsets = await host.repository.logStreamBytes(record.id);
    const resumeExec = sandboxOperation(jobRuntime(host.context, record), sandbox, 'resumeExec');
    const command = resumeExec(record.id, {
      stdoutOffset: offsets.stdout,
      stderrOffset: offsets.stderr,
    });
    const lost = await command.resumed.then(
      (point) => point.stdoutOffset - offsets.stdout + (point.stderrOffset - offsets.stderr),
      (error: unknown) => error,
    );
    if (typeof lost !== 'number') return lostOutcome(log, lost);
    if (lost > 0) log.append('stderr', Buffer.from(lostOutputNotice(lost)));
    return followExec(command, log, signal, {
      timeoutMs,
      remainingMs: endsAt - Date.now(),
      killGraceMs: host.killGraceMs,
    });
  });
}

/**
 * Continues a run job a gone server process started, in its sandbox (attached again): the
 * command is picked up where the stored log ends, then the sandbox is torn down or parked and
 * the workspace synced, as the run would have done. `run`: the job's stored options
 * (`StoredRunOptionsSchema`).
 */
export function adoptRun(
  host: AdoptionHost,
  record: JobRecord,
  sandbox: Sandbox,
  run: StoredRunOptions,
): JobRecord {
  host.context.scheduler?.adopt(sandbox);
  return host.track(record, async (log, signal) => {
    const offsets = await host.repository.logStreamBytes(record.id);
    try {
      const result = await continueRun(host.context, {
        sandbox,
        runtime: jobRuntime(host.context, record),
        key: record.id,
        offsets: { stdoutOffset: offsets.stdout, stderrOffset: offsets.stderr },
        run,
        owner: record.owner,
        startedAt: record.startedAt ?? record.createdAt,
        killGraceMs: host.killGraceMs,
        stdout: logWriter(log, 'stdout'),
        stderr: logWriter(log, 'stderr'),
        signal,
      });
      if (record.workspace)
        await host.repository.touchWorkspace(record.owner, record.workspace, now());
      return outcome({
        ...result,
        timeoutMs: run.timeoutSeconds * 1000,
        memoryMiB: run.limits.memoryMiB,
        workspace: run.workspace,
      });
    } catch (error) {
      if (error instanceof MagsError && error.code === 'job_lost') return lostOutcome(log, error);
      throw error;
    }
  });
}

/**
 * A job a gone process left that cannot continue: failed (end reason `failed`, `reason` as its
 * message), with why in its log too. `sandbox`: where its command may still be kept (running,
 * or ended with its output), which is released there, since nobody will resume it.
 */
export async function failAdopted(
  host: Pick<AdoptionHost, 'context' | 'repository'>,
  record: JobRecord,
  reason: string,
  sandbox?: Sandbox,
): Promise<void> {
  const log = new JobLog(host.repository, record.id, { startOffset: record.logBytes });
  log.append('stderr', Buffer.from(`mags: ${reason}\n`));
  await log.finish();
  await host.repository.updateJob(record.id, {
    ...failedOutcome(reason),
    finishedAt: now(),
    logBytes: log.endOffset,
  });
  if (sandbox) await releaseCommand(host.context, record, sandbox);
}

/**
 * Releases a job's durable command in its sandbox (the agent keeps one nobody resumed: a slot
 * and up to 8 MiB a stream). Best effort: a sandbox that cannot be asked keeps it until it
 * stops, or until newer ended commands push it out.
 */
async function releaseCommand(
  context: MagsContext,
  record: JobRecord,
  sandbox: Sandbox,
): Promise<void> {
  const key = record.id;
  try {
    const runtime = jobRuntime(context, record);
    if (!runtime.capabilities.reattach) return;
    await sandboxOperation(runtime, sandbox, 'forgetExec')(key);
  } catch (error) {
    console.error(`[job ${key}] cannot release its command in sandbox ${sandbox.id}:`, error);
  }
}

/**
 * A deleted exec job the job system failed (its end was not its command's: a restart lost it)
 * may have left its durable command kept in its long-lived sandbox; nobody will ever resume it
 * now, so it is released there. `sandboxes`: where exec jobs run (the server's SandboxManager).
 */
export async function releaseDeletedCommand(
  context: MagsContext,
  sandboxes: JobManagerOptions['execSandboxes'],
  record: JobRecord,
): Promise<void> {
  if (record.kind !== 'exec' || record.endReason !== 'failed' || record.sandbox === null) return;
  if (!sandboxes || !context.runtimes[record.runtime ?? 'namespace']?.capabilities.reattach) return;
  const use = await sandboxes.use(record.owner, record.sandbox).catch(() => undefined);
  if (!use) return; // stopped or deleted since: it keeps nothing
  try {
    await releaseCommand(context, record, use.sandbox);
  } finally {
    use.release();
  }
}

/** The command's end went to the server process that died (or it cannot be picked up again). */
function lostOutcome(log: JobLog, error: unknown): Outcome {
  const reason =
    error instanceof MagsError && error.code === 'job_lost'
      ? error.message
      : lostCommand(error).message;
  log.append('stderr', Buffer.from(`mags: ${reason}\n`));
  return failedOutcome(reason);
}

const now = () => new Date().toISOString();
