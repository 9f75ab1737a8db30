import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import type { JobCluster } from '../jobs/job-cluster.ts';
import type { JobManager } from '../jobs/job-manager.ts';
import { writtenWorkspace } from '../jobs/run-command.ts';
import { type RunJobPlan, refuseBusyWorkspace } from '../jobs/run-job.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { SandboxScheduler } from '../scheduling/sandbox-scheduler.ts';
import type { HostRecord, JobRecord, StateRepository } from '../state/state-repository.ts';
import { ownerWorkspaceName } from '../workspaces/owner-workspace.ts';
import { advertisedAddress, isLoopbackAddress } from './advertised-address.ts';
import { hostGone, noLiveHost, uploadsNeedHost } from './cluster-errors.ts';
import { failUntakenJobs } from './fail-untaken-jobs.ts';
import { HeartbeatObservations, sweepGoneHosts } from './gone-host-sweeper.ts';
import { cannotRecordMessage, hostLostMessage } from './host-lost-messages.ts';
import { placeJob } from './host-placement.ts';
import { type HostLost, HostPresence } from './host-presence.ts';
import { type HostView, toHostView } from './host-view.ts';
import { JobQueueTaker } from './job-queue-taker.ts';
import { StateListeners } from './state-listeners.ts';
import { usableRuntimes } from './usable-runtimes.ts';
import { isWarmAt, WarmWorkspaceVersions } from './warm-workspace-versions.ts';

export type { HostView } from './host-view.ts';

/** How a server takes part in a cluster of servers sharing one PostgreSQL state. */
export interface ClusterOptions {
  /** Serves the API and runs no sandbox: every job is placed on a host (`--api-only`). */
  apiOnly?: boolean;
  /** The URL the other servers reach this one's API at (`--advertise`; default the listen URL). */
  advertise?: string;
  /** How often this host beats (default 2 s). */
  heartbeatMs?: number;
  /** A host silent this long is marked gone and its work failed (default 15 s). */
  hostTimeoutMs?: number;
  /** The slow poll of the job queue, in case a notification was lost (default 5 s). */
  queuePollMs?: number;
  /** The slow poll of a follower of a job on another host (default 2 s). */
  followPollMs?: number;
}

export interface ServerClusterParts {
  repository: StateRepository;
  instance: ServerInstance;
  jobs: JobManager;
  scheduler: SandboxScheduler;
  context: MagsContext;
  /** The long-lived sandboxes here: stopped and refused once this host is declared gone. */
  sandboxes?: SandboxManager;
  options: ClusterOptions;
  log(line: string): void;
}

/**
 * This server among the others on its state (GUIDE §6): where runs go (`placeJob`), its life as a
 * host (registration, heartbeat, taking the jobs placed on it), the sweep that fails the work of
 * silent hosts, and following jobs that run elsewhere through the state's notifications.
 */
export class ServerCluster implements JobCluster {
  readonly apiOnly: boolean;
  readonly heartbeatMs: number;
  readonly hostTimeoutMs: number;
  readonly #parts: ServerClusterParts;
  readonly #listeners: StateListeners;
  #presence: HostPresence | undefined;
  readonly #warmVersions: WarmWorkspaceVersions;
  #taker: JobQueueTaker | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> = Promise.resolve();
  #unlistenStops: (() => void) | undefined;
  #unlistenChanges: (() => void) | undefined;
  /** A job's end could not be recorded: this host fell silent on purpose (`cannotRecord`). */
  #cannotRecord = false;
  /** Each host's heartbeat as this server has seen it change (the sweep's measure of silence). */
  readonly #observed = new HeartbeatObservations();
  /** Runs placed on each other host since the heartbeat of it this server last read. */
  readonly #placedSinceBeat = new Map<string, { heartbeatAt: string; count: number }>();

  constructor(parts: ServerClusterParts) {
    this.#parts = parts;
    this.apiOnly = parts.options.apiOnly ?? false;
    this.heartbeatMs = parts.options.heartbeatMs ?? 2000;
    this.hostTimeoutMs = parts.options.hostTimeoutMs ?? 15_000;
    this.#listeners = new StateListeners(parts.repository);
    this.#warmVersions = new WarmWorkspaceVersions(
      async (workspace) => (await parts.context.workspaces.get(workspace))?.remoteVersion,
    );
  }

  get host(): string {
    return this.#parts.instance.host;
  }

  /** `api-only`, or `host` (API and sandboxes), or `gone host` once declared gone. */
  get role(): string {
    if (this.apiOnly) return 'api-only';
    return this.#presence?.gone ? 'gone host' : 'host';
  }

  /**
   * Joins: a host registers and takes the jobs placed on it; every server sweeps silent hosts.
   * `listenUrl`: its API's address when no `advertise` was given.
   */
  async start(listenUrl: string): Promise<void> {
    const { repository, instance, jobs, log } = this.#parts;
    if (!this.apiOnly) {
      this.#presence = new HostPresence({
        repository,
        instance,
        address: advertisedAddress(this.#parts.options.advertise, listenUrl),
        runtimes: await usableRuntimes(this.#parts.context),
        load: () => this.#load(),
        heartbeatMs: this.heartbeatMs,
        hostTimeoutMs: this.hostTimeoutMs,
        log,
        onGone: (how) => void this.#wasDeclaredGone(how),
        onError: (error) => log(`heartbeat not written: ${(error as Error).message}`),
      });
      await this.#presence.start();
      if (!this.#parts.options.advertise && isLoopbackAddress(new URL(listenUrl).hostname)) {
        log(
          `registered at ${listenUrl} (no --advertise): only servers on this machine can forward to this host`,
        );
      }
      this.#unlistenStops = await this.#listeners.on('job_stop', '*', (payload) => {
        const [id, how] = payload.split(':');
        if (id) void jobs.stopHere(id, how === 'kill').catch(() => {});
      });
      this.#taker = new JobQueueTaker({
        repository,
        listeners: this.#listeners,
        instance,
        jobs,
        pollMs: this.#parts.options.queuePollMs,
        onError: (error) => log(`cannot take the jobs placed here: ${(error as Error).message}`),
      });
      await this.#taker.start();
    }
    // Jobs of other hosts, for the followers of job changes here.
    this.#unlistenChanges = await this.#listeners.on('job_changed', '*', (payload) => {
      const [id, owner] = payload.split(':');
      if (!id || !owner || !jobs.followed) return;
      repository.getJob(owner, id).then(
        // This process's own jobs were told to its followers as they changed.
        (record) => record && record.server !== instance.server && jobs.changedElsewhere(record),
        () => {},
      );
    });
    this.#sweeper = setInterval(
      () => {
        this.#sweeping = this.#sweeping.then(() => this.sweep());
      },
      Math.min(this.heartbeatMs, this.hostTimeoutMs / 2),
    );
    this.#sweeper.unref();
  }

  /** Marks the hosts silent beyond the timeout gone (GET /v1/hosts, tests; the timer does it too). */
  async sweep(): Promise<void> {
    try {
      const swept = await sweepGoneHosts(this.#parts.repository, {
        observed: this.#observed,
        nowMs: performance.now(),
        hostTimeoutMs: this.hostTimeoutMs,
        ...(this.apiOnly ? {} : { self: this.host }),
      });
      for (const gone of swept) {
        this.#parts.log(
          `${gone.reason} (${gone.jobs.length} jobs failed, ${gone.sandboxes.length} sandboxes stopped)`,
        );
      }
    } catch (error) {
      this.#parts.log(`cannot sweep silent hosts: ${(error as Error).message}`);
    }
  }

  /** Every host recorded, as `GET /v1/hosts` shows it. */
  async hosts(): Promise<HostView[]> {
    const now = Date.now();
    return (await this.#parts.repository.listHosts()).map((host) =>
      toHostView(host, now, this.hostTimeoutMs),
    );
  }

  async place(plan: RunJobPlan): Promise<string | undefined> {
    const { request, record } = plan;
    // A host declared gone runs nothing more: it places like an API-only server.
    const self = this.apiOnly || this.#presence?.gone ? undefined : this.host;
    // Its uploads are on this server's disk: it runs where they are.
    if ((request.files ?? []).length > 0) {
      if (self === undefined) throw uploadsNeedHost();
      return undefined;
    }
    const { repository } = this.#parts;
    const writes = writtenWorkspace(request);
    if (writes !== undefined) {
      // One writer per workspace across hosts too (a job here is checked by the job manager).
      const active: JobRecord[] = [];
      for (const status of ['queued', 'running'] as const) {
        const page = await repository.listJobs({
          owner: record.owner,
          workspace: writes,
          status,
          limit: 1,
        });
        active.push(...page.jobs);
      }
      refuseBusyWorkspace(record.owner, request, active);
    }
    const stored = await repository.listHosts();
    const hosts = this.#withRecentPlacements(stored);
    const workspace = plan.workspace && ownerWorkspaceName(record.owner, plan.workspace);
    const placement = placeJob(hosts, {
      runtime: plan.runOptions.runtime ?? this.#parts.context.runtime.name,
      workspace,
      ...(await this.#storeVersion(hosts, workspace)),
      self,
      now: Date.now(),
      hostTimeoutMs: this.hostTimeoutMs,
    });
    if (!placement) throw noLiveHost(plan.runOptions.runtime ?? 'any', this.hostTimeoutMs);
    const { id } = placement.host;
    if (id === self) return undefined;
    // Counted against its heartbeat as stored (placement saw it in this server's time).
    const heartbeatAt = stored.find((host) => host.id === id)?.heartbeatAt ?? '';
    const placed = this.#placedSinceBeat.get(id);
    if (placed?.heartbeatAt === heartbeatAt) placed.count++;
    else this.#placedSinceBeat.set(id, { heartbeatAt, count: 1 });
    return id;
  }

  /**
   * The hosts as placement should see them: this host's own load as it is now, and each other
   * host's as of its last heartbeat plus what this server placed on it since (a heartbeat lags a
   * burst of submissions, which would all go to the same host otherwise). A heartbeat's time is
   * taken as this server saw it change (its own clock, as the sweep does), so a host whose clock
   * is off still gets work.
   */
  #withRecentPlacements(hosts: HostRecord[]): HostRecord[] {
    const [nowMs, wallNowMs] = [performance.now(), Date.now()];
    return hosts.map((record) => {
      const ageMs = this.#observed.ageMs(record, nowMs, wallNowMs);
      const host = { ...record, heartbeatAt: new Date(wallNowMs - ageMs).toISOString() };
      if (host.id === this.host && !this.apiOnly) return { ...host, ...this.#load() };
      const placed = this.#placedSinceBeat.get(host.id);
      if (placed?.heartbeatAt !== record.heartbeatAt) {
        this.#placedSinceBeat.delete(host.id);
        return host;
      }
      return { ...host, runningJobs: host.runningJobs + placed.count };
    });
  }

  /**
   * The hosts as this server's placement sees them (heartbeats timed on its own clock, its own
   * load as it is now, runs it placed since a host's last beat): what `placeJob` should be given
   * by anything else that places work (a new long-lived sandbox).
   */
  async hostsForPlacement(): Promise<HostRecord[]> {
    return this.#withRecentPlacements(await this.#parts.repository.listHosts());
  }

  /**
   * Before a job's end is recorded here: a host that may have been silent (frozen, cut off)
   * checks it is still a host, and if it was declared gone stops its jobs before anything of
   * theirs is recorded (the sweep failed them already).
   */
  async confirmHost(): Promise<void> {
    await this.#presence?.confirm();
  }

  async placed(record: JobRecord): Promise<void> {
    if (record.host) await this.#parts.repository.notify('jobs_placed', record.host);
    this.changed(record);
  }

  output(jobId: string, endOffset: number): void {
    this.#tell('job_output', `${jobId}:${endOffset}`);
  }

  changed(record: JobRecord): void {
    this.#tell('job_changed', `${record.id}:${record.owner}`);
  }

  async follow(jobId: string) {
    const watch = await this.#listeners.watch(['job_output', 'job_changed'], jobId);
    const pollMs = this.#parts.options.followPollMs ?? 2000;
    return {
      wait: (signal?: AbortSignal) => watch.wait(pollMs, signal),
      close: () => watch.close(),
    };
  }

  async requestStop(jobId: string, kill: boolean): Promise<void> {
    await this.#parts.repository.notify('job_stop', `${jobId}:${kill ? 'kill' : 'stop'}`);
  }

  /**
   * The first step of a clean stop: takes no more jobs from the queue and sweeps no more, but
   * keeps heartbeating, so that this host stays listed (and live) while its jobs are stopped and
   * their ends recorded; `close` removes it after that. A host record removed first would leave
   * a job whose end a killed process never wrote `running` for good: the sweep walks the hosts.
   */
  async stopTaking(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#sweeping;
    await this.#taker?.stop();
  }

  /**
   * Stops taking work (`stopTaking`) and leaves. `remove`: a clean stop, once its jobs' ends are
   * recorded: what was placed here and not taken is failed, then the host's record removed;
   * otherwise (a detaching stop, its sandboxes left running) the record stays for the next server
   * of this host, and falls silent if none comes.
   */
  async close(options: { remove: boolean }): Promise<void> {
    await this.stopTaking();
    this.#unlistenStops?.();
    this.#unlistenChanges?.();
    // Leaving the hosts, nothing will take what was placed here and not yet taken: failed now,
    // with why, rather than left queued for nobody; before the record goes (a stop cut short
    // here leaves them on a listed host, which the sweep fails once it is silent).
    if (options.remove && this.#presence && !this.#presence.gone) {
      await failUntakenJobs(
        this.#parts.repository,
        this.#parts.instance,
        this.#parts.jobs,
        (record) => this.changed(record),
      ).catch((error: unknown) => {
        this.#parts.log(`cannot fail the jobs placed here: ${(error as Error).message}`);
      });
    }
    await this.#presence?.stop(options).catch((error: unknown) => {
      this.#parts.log(`cannot remove this host's record: ${(error as Error).message}`);
    });
    await this.#listeners.close();
  }

  #tell(channel: 'job_output' | 'job_changed', payload: string): void {
    this.#parts.repository.notify(channel, payload).catch((error: unknown) => {
      this.#parts.log(`cannot notify ${channel}: ${(error as Error).message}`);
    });
  }

  /**
   * The store's latest version of `workspace`, read only when a host has it parked warm (one
   * listing of the store per such placement): a warm copy behind it is not warm. Unreadable: by
   * name, as before versions were published (the host still refuses a stale copy itself).
   */
  async #storeVersion(
    hosts: HostRecord[],
    workspace: string | undefined,
  ): Promise<{ storeVersion?: number }> {
    if (workspace === undefined) return {};
    if (!hosts.some((host) => isWarmAt(host.warmWorkspaces, workspace, undefined))) return {};
    try {
      const latest = (await this.#parts.context.sync.versions(workspace)).at(-1)?.version;
      return latest === undefined ? {} : { storeVersion: latest };
    } catch (error) {
      this.#parts.log(`store versions of ${workspace} not read: ${(error as Error).message}`);
      return {};
    }
  }

  #load(): Pick<HostRecord, 'maxJobs' | 'runningJobs' | 'warmWorkspaces'> {
    const counts = this.#parts.jobs.counts;
    return {
      maxJobs: counts.maxConcurrent,
      // Its queue counts: a host with a backlog is as loaded as a busy one.
      runningJobs: counts.running + counts.queued,
      warmWorkspaces: this.#warmVersions.entries(this.#parts.scheduler.warm.parkedWorkspaces()),
    };
  }

  cannotRecord(jobId: string, error: unknown): void {
    if (this.#cannotRecord || this.#presence === undefined) return;
    this.#cannotRecord = true;
    this.#parts.log(cannotRecordMessage(this.host, jobId, error, this.hostTimeoutMs));
    this.#presence.silence();
    void this.#letGo();
  }

  async #wasDeclaredGone(how: HostLost): Promise<void> {
    this.#parts.log(hostLostMessage(this.host, how, this.hostTimeoutMs));
    if (how.kind === 'replaced') await this.#endOwnWork();
    await this.#letGo();
  }

  /**
   * Its id taken by another process (not declared gone): no sweep will end its work, so it records
   * the end itself, stopped as at a shutdown; each write applies only while the record is still
   * this process's (updateUnfinishedJob, upsertSandbox held), never over the new process's.
   */
  async #endOwnWork(): Promise<void> {
    await this.#taker?.stop();
    await this.#parts.jobs.shutdown();
    await this.#parts.sandboxes?.shutdown();
  }

  async #letGo(): Promise<void> {
    const { jobs, sandboxes } = this.#parts;
    // Its long-lived sandboxes too (the sweep recorded them stopped), and no new ones or execs:
    // a request sent straight here is refused with where to go instead.
    const abandoningSandboxes = sandboxes?.abandon(() => hostGone(this.host));
    // First, synchronously: from here on nothing of its jobs is recorded (`abandon` marks the job
    // manager at once; a job's end waiting in `confirmHost` sees it).
    const abandoning = jobs.abandon();
    await this.#taker?.stop();
    await abandoning;
    await abandoningSandboxes;
  }
}
