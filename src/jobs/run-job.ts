import { egressAllowList } from '../api/egress-rules.ts';
import type { RunOptions, StoredRunOptions } from '../api/run-options.ts';
import { definedFields } from '../config/defined-fields.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { selectRuntime } from '../context/select-runtime.ts';
import { ConflictError, InvalidInputError } from '../errors/mags-error.ts';
import { checkAllowListSupported } from '../runtimes/egress-policy.ts';
import type { ResourceLimits, Sandbox } from '../runtimes/runtime.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';
import { ownerWorkspaceName } from '../workspaces/owner-workspace.ts';
import { type JobBody, logWriter } from './job-body.ts';
import { outcome } from './job-outcome.ts';
import { newJob } from './new-job.ts';
import { type RunUpload, runCommand, writtenWorkspace } from './run-command.ts';
import type { UploadStore } from './upload-store.ts';

/** A run as the API takes it (`RunOptions`, the schema's type), with the command as an argv. */
export type RunJobRequest = RunOptions & { argv: string[] };

/** A run job checked and with every default filled in, ready to be recorded and started. */
export interface RunJobPlan {
  request: RunJobRequest;
  record: JobRecord;
  /** The workspace it reads or writes, as its owner names it. */
  workspace: string | undefined;
  timeoutMs: number;
  limits: ResourceLimits;
  runOptions: StoredRunOptions;
}

/**
 * Checks what can be checked before anything is recorded, and fills in the defaults. The stored
 * run options are what another server process needs to finish the job after a restart.
 */
export function planRunJob(
  context: MagsContext,
  owner: string,
  request: RunJobRequest,
  instance: ServerInstance | undefined,
): RunJobPlan {
  if (request.workspace !== undefined && request.base !== undefined) {
    throw new InvalidInputError(
      'Give either workspace (read-write) or base (read-only), not both.',
    );
  }
  if (request.version !== undefined && request.workspace === undefined) {
    throw new InvalidInputError('version needs the workspace it is a version of.');
  }
  const workspace = request.workspace ?? request.base;
  const runtime = selectRuntime(context, request.runtime); // an unknown name is a 400
  const defaults = context.defaults;
  const timeoutMs =
    request.timeoutSeconds === undefined ? defaults.timeoutMs : request.timeoutSeconds * 1000;
  // A limit given as undefined keeps the default.
  const limits = { ...defaults.limits, ...definedFields(request.limits) };
  const { env: _env, files: _files, argv: _argv, ...asked } = request;
  const runOptions: StoredRunOptions = {
    ...asked,
    image: request.image ?? defaults.image,
    runtime: runtime.name,
    network: request.network ?? false,
    ...egressAllowList(request.allow, request.network, defaults.allow),
    timeoutSeconds: timeoutMs / 1000,
    limits,
  };
  checkAllowListSupported(runtime, runOptions.allow);
  const record: JobRecord = {
    ...newJob(owner, 'run', request.argv, workspace ?? null, null, runtime.name),
    ...instance,
    runOptions,
  };
  return { request, record, workspace, timeoutMs, limits, runOptions };
}

export interface RunJobParts {
  context: MagsContext;
  repository: StateRepository;
  killGraceMs: number;
  /** The fresh sandbox's labels: a restarted server finds it by them. */
  labels: Record<string, string>;
  /** The command's durable key (capability reattach): a restarted server picks it up by it. */
  execKey: string | undefined;
  /** The files it writes into /workspace (the uploads it claimed). */
  files: RunUpload[];
  /** Its sandbox is up (before any file is written into it). */
  onSandbox(sandbox: Sandbox): void;
}

/** What a run job does: `runCommand` (the same path as the CLI's), its result as the outcome. */
export function runJobBody(plan: RunJobPlan, parts: RunJobParts): JobBody {
  const { request, record, timeoutMs, limits, runOptions } = plan;
  const owner = record.owner;
  return async (log, signal, announce) => {
    const stderr = logWriter(log, 'stderr');
    const result = await runCommand(parts.context, {
      labels: parts.labels,
      ...(parts.execKey ? { execKey: parts.execKey } : {}),
      argv: request.argv,
      workspace: request.workspace && ownerWorkspaceName(owner, request.workspace),
      base: request.base && ownerWorkspaceName(owner, request.base),
      ephemeral: request.ephemeral,
      persist: request.persist,
      version: request.version,
      env: request.env,
      files: parts.files,
      timeoutMs,
      killGraceMs: parts.killGraceMs,
      limits,
      network: runOptions.network,
      ...(runOptions.allow ? { allow: runOptions.allow } : {}),
      image: runOptions.image,
      runtime: runOptions.runtime,
      stdout: logWriter(log, 'stdout'),
      stderr,
      signal,
      onStarted: (sandbox) => {
        parts.onSandbox(sandbox);
        announce({ type: 'started', sandboxId: sandbox.id });
        for (const warning of sandbox.warnings) stderr.write(`mags: warning: ${warning}\n`);
      },
      onSyncProgress: (progress) => announce({ type: 'progress', progress }),
    });
    if (plan.workspace)
      await parts.repository.touchWorkspace(owner, plan.workspace, new Date().toISOString());
    return outcome({
      ...result,
      timeoutMs,
      memoryMiB: limits.memoryMiB,
      workspace: request.workspace,
    });
  };
}

/**
 * One writer per workspace: a run writing to one that a job in `active` (queued or running,
 * not stopping) writes to is a 409.
 */
export function refuseBusyWorkspace(
  owner: string,
  request: RunJobRequest,
  active: Iterable<JobRecord>,
): void {
  const workspace = writtenWorkspace(request);
  if (!workspace) return;
  for (const record of active) {
    if (record.owner !== owner || record.kind !== 'run' || record.workspace !== workspace) continue;
    throw workspaceBusy(workspace, record.id);
  }
}

/** The 409 of a run writing to `workspace`, which the job `jobId` writes to already. */
export function workspaceBusy(workspace: string, jobId: string): ConflictError {
  return new ConflictError(`Workspace ${JSON.stringify(workspace)} is in use by job ${jobId}.`, {
    workspace,
    code: 'workspace_busy',
    hint: 'Wait for it (mags logs -f ID) or stop it (mags stop ID); readers can use --base.',
  });
}

/**
 * Records a run job (StateRepository.insertRunJob): refused with a 409 when another queued or
 * running run, on any server, writes the workspace it writes. `except`: this process's runs
 * being stopped, which no longer hold it.
 */
export async function insertRunJob(
  repository: StateRepository,
  record: JobRecord,
  request: RunJobRequest,
  except: readonly string[] = [],
): Promise<void> {
  const writes = writtenWorkspace(request);
  const writer = await repository.insertRunJob(record, writes, except);
  if (writer !== undefined && writes !== undefined) throw workspaceBusy(writes, writer);
}

/**
 * Claims the uploads a run names for the job `jobId` (no second job can take them; an unknown
 * one is a 404 before the job exists): the files it writes into /workspace, and how to remove
 * them once it is done with them.
 */
export async function claimRunFiles(
  uploads: UploadStore | undefined,
  owner: string,
  files: NonNullable<RunJobRequest['files']>,
  jobId: string,
): Promise<{ files: RunUpload[]; release(): Promise<void> }> {
  if (files.length === 0) return { files: [], release: async () => {} };
  if (!uploads) throw new InvalidInputError('This server takes no uploads.');
  const ids = files.map((file) => file.upload);
  const claimed = await uploads.claim(owner, ids, jobId);
  return {
    files: files.map((file, index) => ({
      source: (claimed[index] as { path: string }).path,
      name: file.name,
      mode: file.mode ?? 0o644,
      ...(file.archive ? { archive: true } : {}),
    })),
    release: () => uploads.release(claimed),
  };
}
