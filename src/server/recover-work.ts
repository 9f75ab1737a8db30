import { StoredExecOptionsSchema, StoredRunOptionsSchema } from '../api/run-options.ts';
import { type ServerInstance, serverIsAlive } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { lostCommandReason, runWrites } from '../jobs/continue-run.ts';
import type { JobManager } from '../jobs/job-manager.ts';
import { runtimeOperation, sandboxOperation } from '../runtimes/require-capability.ts';
import type { Runtime, Sandbox, SandboxInfo } from '../runtimes/runtime.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import { runtimeLabel } from '../sandboxes/sandbox-spec.ts';
import type { JobRecord, StateRepository, TakenOver } from '../state/state-repository.ts';

/** What a starting server found of the work gone server processes on its host left. */
export interface RecoveryReport {
  /** Jobs whose commands were picked up again, and long-lived sandboxes attached again. */
  jobsContinued: number;
  sandboxesReattached: number;
  /** Finished runs' sandboxes put back into the warm cache. */
  parked: number;
  /** Jobs failed and sandboxes marked stopped because what they ran in was gone. */
  jobsFailed: number;
  sandboxesGone: number;
  /** Sandboxes of a gone server that nothing needs any more, stopped. */
  stopped: number;
  /**
   * Jobs and sandboxes whose recovery failed (each logged, and failed or marked stopped with the
   * reason where that could still be recorded): the rest was recovered regardless.
   */
  failures: number;
}

export const sandboxGoneReason =
  'its sandbox ended while no server was running (it was killed, or the host restarted)';

/** Why a job or sandbox whose recovery threw is failed (or marked stopped). */
export const recoveryFailedReason = (message: string) =>
  `the server restarted and could not take this over again: ${message}`;

/**
 * Takes over the work of this host's server processes that are gone (killed, crashed, upgraded,
 * or shut down with their sandboxes left running), never that of a live one or of another host:
 * their long-lived sandboxes are attached again (a sleeping one stays asleep), their jobs go on
 * where their stored output ends, a finished run's parked sandbox goes back to the warm cache,
 * and whatever ran in a sandbox that is gone is failed with that reason. Once work is taken over,
 * nothing one job or sandbox does can stop the server from starting: each item's failure is
 * logged, recorded on it where possible, and the rest goes on.
 */
export async function recoverWork(options: {
  context: MagsContext;
  repository: StateRepository;
  jobs: JobManager;
  sandboxes: SandboxManager;
  instance: ServerInstance;
  log?: (line: string) => void;
}): Promise<RecoveryReport> {
  const { context, repository, jobs, sandboxes, instance } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`mags server: ${line}\n`));
  const report: RecoveryReport = {
    jobsContinued: 0,
    sandboxesReattached: 0,
    parked: 0,
    jobsFailed: 0,
    sandboxesGone: 0,
    stopped: 0,
    failures: 0,
  };
  /** Runs one item's recovery; a failure is logged and handed to `recordFailure`, never thrown. */
  const attempt = async (
    what: string,
    action: () => Promise<void>,
    recordFailure?: (reason: string) => Promise<void>,
  ): Promise<void> => {
    try {
      await action();
    } catch (error) {
      report.failures++;
      const message = (error as Error).message;
      log(`${what}: ${message}`);
      await recordFailure?.(recoveryFailedReason(message)).catch((again: unknown) => {
        log(`${what}, and recording that failed too: ${(again as Error).message}`);
      });
    }
  };
  // Every runtime whose sandboxes outlive their server is asked for its own; each sandbox keeps
  // the runtime that listed it (a sandbox labelled with another runtime is that one's).
  const listed: { info: SandboxInfo; runtime: Runtime }[] = [];
  for (const runtime of Object.values(context.runtimes)) {
    if (!runtime.capabilities.reattach) continue;
    for (const info of await runtimeOperation(runtime, 'list')()) {
      if ((info.labels[runtimeLabel] ?? runtime.name) === runtime.name)
        listed.push({ info, runtime });
    }
  }
  const runtimeOf = new Map<Sandbox, Runtime>();
  // Whose each running sandbox is now: the server that started it, or whoever took that over.
  const ownerOf = new Map<string, string>();
  const candidates = new Set(await repository.unfinishedServers(instance.host));
  for (const { info } of listed) {
    const labelled = info.labels.server;
    // Every job system labels its sandboxes with its process (a server, or the one embedded in a
    // `mags run`): one without is not a job system's, never ours to touch.
    if (!labelled) continue;
    const owner = (await repository.serverSuccessor(labelled)) ?? labelled;
    ownerOf.set(info.id, owner);
    candidates.add(owner);
  }
  const taken: TakenOver = { jobs: [], sandboxes: [] };
  const ours = new Set<string>();
  for (const server of candidates) {
    if (server === instance.server || serverIsAlive(server)) continue;
    await attempt(`cannot take over the work of server ${server}`, async () => {
      const got = await repository.takeOverServer({
        server,
        host: instance.host,
        successor: instance.server,
        at: new Date().toISOString(),
      });
      if (!got) return; // another server process starting now was first
      ours.add(server);
      taken.jobs.push(...got.jobs);
      taken.sandboxes.push(...got.sandboxes);
    });
  }

  const attached = new Map<string, { info: SandboxInfo; sandbox: Sandbox }>();
  for (const { info, runtime } of listed) {
    if (!ours.has(ownerOf.get(info.id) ?? '')) continue;
    try {
      const sandbox = await runtimeOperation(runtime, 'attach')(info.id);
      runtimeOf.set(sandbox, runtime);
      attached.set(info.id, { info, sandbox });
    } catch (error) {
      log(`cannot attach sandbox ${info.id} again: ${(error as Error).message}`);
    }
  }

  // Long-lived sandboxes: by their record's runtime id.
  const longLived = new Map<string, Sandbox>();
  for (const record of taken.sandboxes) {
    const found = record.runtimeId ? attached.get(record.runtimeId) : undefined;
    if (!found) {
      await attempt(`cannot mark sandbox ${record.owner}/${record.name} stopped`, async () => {
        await sandboxes.markGone(record, sandboxGoneReason);
        report.sandboxesGone++;
      });
      continue;
    }
    attached.delete(found.info.id);
    sandboxes.adopt(record, found.sandbox);
    longLived.set(`${record.owner}/${record.name}`, found.sandbox);
    report.sandboxesReattached++;
  }

  // Durable commands by key (a job's id). A sleeping sandbox runs none (a sandbox in use never
  // sleeps), and asking would wake it.
  const byKey = new Map<string, Sandbox>();
  const awake = [
    ...[...attached.values()].map(({ sandbox }) => sandbox),
    ...taken.sandboxes
      .filter((record) => record.status === 'running')
      .map((record) => longLived.get(`${record.owner}/${record.name}`))
      .filter((sandbox): sandbox is Sandbox => sandbox !== undefined),
  ];
  for (const sandbox of awake) {
    const runtime = runtimeOf.get(sandbox);
    if (!runtime) continue;
    const execs = await sandboxOperation(runtime, sandbox, 'listExecs')().catch(() => []);
    for (const exec of execs) byKey.set(exec.key, sandbox);
  }

  const fail = async (record: JobRecord, reason: string, sandbox?: Sandbox) => {
    // Its command, if its sandbox still keeps it, is released there: nobody will resume it.
    await jobs.failAdopted(record, reason, sandbox);
    report.jobsFailed++;
  };
  const recovery: JobRecovery = { attached, byKey, longLived, sandboxes, jobs, report, fail };
  for (const record of taken.jobs) {
    await attempt(
      `cannot continue job ${record.id}`,
      () => recoverJob(recovery, record),
      async (reason) => {
        const sandbox = byKey.get(record.id);
        // An exec's command is released in its long-lived sandbox; a run's sandbox has no use.
        await jobs.failAdopted(record, reason, record.kind === 'exec' ? sandbox : undefined);
        if (record.kind === 'run') await sandbox?.stop();
      },
    );
  }

  // What is left: finished runs' sandboxes (parked, or on their way to be), and leftovers.
  for (const { info, sandbox } of attached.values()) {
    await attempt(
      `cannot park or stop sandbox ${info.id}`,
      async () => {
        const runtime = runtimeOf.get(sandbox) ?? context.runtime;
        if (await parkAgain(context, repository, info, sandbox, runtime)) report.parked++;
        else {
          await sandbox.stop();
          report.stopped++;
        }
      },
      async () => {
        await sandbox.stop();
      },
    );
  }
  return report;
}

interface JobRecovery {
  attached: Map<string, { info: SandboxInfo; sandbox: Sandbox }>;
  byKey: Map<string, Sandbox>;
  longLived: Map<string, Sandbox>;
  sandboxes: SandboxManager;
  jobs: JobManager;
  report: RecoveryReport;
  fail(record: JobRecord, reason: string, sandbox?: Sandbox): Promise<void>;
}

/** One job a gone server left: continued where its sandbox and command still are, else failed. */
async function recoverJob(recovery: JobRecovery, record: JobRecord): Promise<void> {
  const { attached, byKey, longLived, sandboxes, jobs, report, fail } = recovery;
  if (record.status === 'queued') {
    await fail(record, 'the server stopped before this job started');
    return;
  }
  const sandbox = byKey.get(record.id);
  if (record.kind === 'exec') {
    const holder = longLived.get(`${record.owner}/${record.sandbox}`);
    const stored = StoredExecOptionsSchema.safeParse(record.runOptions);
    if (sandbox && sandbox === holder && record.sandbox && stored.success) {
      const release = sandboxes.hold(record.owner, record.sandbox);
      jobs.adoptExec(record, sandbox, stored.data);
      jobs.wait(record.owner, record.id).then(release, release);
      report.jobsContinued++;
    } else {
      await fail(
        record,
        !holder
          ? sandboxGoneReason
          : sandbox === holder && !stored.success
            ? unreadableReason
            : lostCommandReason,
        sandbox,
      );
    }
    return;
  }
  const labelled = [...attached.values()].find(({ info }) => info.labels.job === record.id);
  const run = StoredRunOptionsSchema.safeParse(record.runOptions);
  if (sandbox) {
    for (const [id, entry] of attached) if (entry.sandbox === sandbox) attached.delete(id);
  }
  if (sandbox && !run.success) {
    await sandbox.stop();
    await fail(record, unreadableReason);
  } else if (sandbox && run.success) {
    jobs.adoptRun(record, sandbox, run.data);
    report.jobsContinued++;
  } else if (labelled) {
    attached.delete(labelled.info.id);
    await labelled.sandbox.stop();
    await fail(
      record,
      'the server stopped while this job was starting or ending, before its command ran or before it recorded how it ended',
    );
  } else {
    await fail(record, sandboxGoneReason);
  }
}

export const unreadableReason =
  'the server stopped while this job was running, and what it recorded to continue it cannot be read (recorded by another version of mags?)';

/** A run's sandbox whose job is over goes back to the warm cache if it is fit to serve again. */
async function parkAgain(
  context: MagsContext,
  repository: StateRepository,
  info: SandboxInfo,
  sandbox: Sandbox,
  runtime: Runtime,
): Promise<boolean> {
  const scheduler = context.scheduler;
  const { kind, owner, job } = info.labels;
  if (!scheduler || kind !== 'run' || !owner || !job) return false;
  const record = await repository.getJob(owner, job);
  const stored = StoredRunOptionsSchema.safeParse(record?.runOptions);
  if (!record || !stored.success) return false;
  const run = stored.data;
  const writes = runWrites(owner, run);
  if (!writes || record.status === 'queued' || record.status === 'running') return false;
  const usage = await sandbox.usage();
  if (!sandbox.isRunning() || usage.processes !== 0) return false;
  scheduler.adopt(sandbox);
  return scheduler.park(writes, {
    sandbox,
    runtime: runtime.name,
    image: run.image,
    network: run.network,
    limits: run.limits,
    ...(run.allow ? { allow: run.allow } : {}),
    oomKills: usage.oomKills,
    memoryBytes: usage.memoryBytes ?? 0,
    reusable: true,
  });
}
