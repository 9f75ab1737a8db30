import { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { defaultMaxUploadBytes } from '../api/uploads.ts';
import { type ClusterOptions, ServerCluster } from '../cluster/server-cluster.ts';
import { currentServerInstance, type ServerInstance } from '../config/server-instance.ts';
import { createMagsContext, type MagsContext } from '../context/mags-context.ts';
import { CronManager } from '../cron/cron-manager.ts';
import type { CronSettings } from '../cron/cron-settings.ts';
import { JobManager } from '../jobs/job-manager.ts';
import { LogRetention, type LogRetentionOptions } from '../jobs/log-retention.ts';
import { UploadStore } from '../jobs/upload-store.ts';
import { ProjectPlanGit } from '../plans/git/project-plan-git.ts';
import { PlanManager } from '../plans/plan-manager.ts';
import type { PlanGit, Planner } from '../plans/plan-parts.ts';
import type { PlanSettings } from '../plans/plan-settings.ts';
import { createModelPlanner } from '../plans/planner/model-planner.ts';
import { checkPlannerSettings } from '../plans/planner/planner-settings.ts';
import { ProjectManager } from '../projects/project-manager.ts';
import { runtimeOperation } from '../runtimes/require-capability.ts';
import { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import { SandboxScheduler } from '../scheduling/sandbox-scheduler.ts';
import { openStateRepository } from '../state/open-state-repository.ts';
import type { StateRepository } from '../state/state-repository.ts';
import { builtinTicketParts } from '../tickets/builtin-ticket-parts.ts';
import { TicketManager } from '../tickets/ticket-manager.ts';
import type { TicketAgentParts, TicketProjects } from '../tickets/ticket-parts.ts';
import { type TicketSettings, ticketSettings } from '../tickets/ticket-settings.ts';
import { TriggerManager } from '../triggers/trigger-manager.ts';
import type { TriggerSettings } from '../triggers/trigger-settings.ts';
import { SandboxUrls } from '../urls/sandbox-urls.ts';
import { UrlLinkSigner } from '../urls/url-link-signer.ts';
import { localOwner } from '../workspaces/owner-workspace.ts';
import { createApp } from './create-app.ts';
import { type DiskLimits, defaultDiskLimits } from './disk-limits.ts';
import { HostForwarder } from './forwarding/host-forwarder.ts';
import { installUpgradeForwarding } from './forwarding/install-upgrade-forwarding.ts';
import { maxStreamsPerOwnerFrom } from './owner-streams.ts';
import { type RecoveryReport, recoverWork } from './recover-work.ts';
import type { ServerServices } from './server-env.ts';
import { submitRunJob } from './submit-run-job.ts';
import { installUrlProxy, UrlProxy } from './url-proxy.ts';

export interface StartServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  context?: MagsContext;
  /** The default runtime, by name, when no context is given (`mags server --runtime`; default MAGS_RUNTIME). */
  runtime?: string;
  /** Defaults to SQLite at `$MAGS_HOME/state.db`. */
  repository?: StateRepository;
  maxConcurrentJobs?: number;
  /** What one owner may hold, so no owner can take the server from the others. */
  perOwner?: PerOwnerLimits;
  maxUploadBytes?: number;
  /** Workspace disks: the largest one a request may ask for, and an owner's total (README). */
  disks?: Partial<DiskLimits>;
  /** The largest file a download streams (default 1 GiB, like uploads). */
  maxDownloadBytes?: number;
  /** A download whose client takes no byte for this long is cut off (default 60 s). */
  downloadIdleTimeoutMs?: number;
  version?: string;
  /**
   * The host's local server (`mags server --local`): accepts tokens for the owner `local`, which
   * every other server refuses (default false).
   */
  acceptLocalOwner?: boolean;
  /**
   * Where owners other than `local` may import host repositories from (default: the
   * colon-separated MAGS_PROJECT_ROOTS; none: only URLs).
   */
  projectRoots?: string[];
  scheduling?: SchedulingOptions;
  /** How long and how much job output is kept (defaults: 7 days, 2 GiB an owner, 10 GiB). */
  logRetention?: LogRetentionOptions;
  /** This process as recorded on its jobs and sandboxes (default: this host and process). */
  instance?: ServerInstance;
  /** Tickets: their settings (budgets, concurrency, retention) and, for tests, their parts. */
  tickets?: {
    settings?: Partial<TicketSettings>;
    projects?: TicketProjects;
    parts?: TicketAgentParts;
    /** Where the providers' keys and MAGS_DEFAULT_MODEL are read (default process.env). */
    environment?: NodeJS.ProcessEnv;
  };
  /** Cron jobs' per-owner limits (default: the MAGS_CRON_* variables, then cron-settings.ts). */
  cron?: Partial<CronSettings>;
  /** Triggers' per-owner limits (default: the MAGS_TRIGGER_* variables, then trigger-settings.ts). */
  triggers?: Partial<TriggerSettings>;
  /** Plans: their settings and, for tests, their planner and git (default: the real ones). */
  plans?: { settings?: Partial<PlanSettings>; planner?: Planner; git?: PlanGit };
  /**
   * The wildcard domain of sandbox URLs' host form, `PORT-NAME-TAG.DOMAIN` (`mags server
   * --url-domain`); without it, URLs take the path form `/u/ID/`.
   */
  urlDomain?: string;
  /**
   * This host's name in the state (`mags server --host-id`; default MAGS_HOST_ID, else the
   * hostname): what its jobs and sandboxes record, and what placement picks.
   */
  hostId?: string;
  /**
   * Several servers and hosts on one shared state (`--state postgres://…`): this server
   * registers as a host (unless `apiOnly`), takes the jobs placed on it and places runs on the
   * live hosts (src/cluster/). Absent: one host on its own state, every job runs here.
   */
  cluster?: ClusterOptions;
  /**
   * Where the state lives when no `repository` is given (`mags server --state`, MAGS_STATE): a
   * postgres:// URL or a SQLite file's path (open-state-repository.ts); default
   * `$MAGS_HOME/state.db`.
   */
  state?: string;
}

export interface PerOwnerLimits {
  /** Jobs running at once, execs included (default 8); more wait as queued. */
  runningJobs?: number;
  /** Jobs waiting (default 64); one more is refused with 429 and Retry-After. */
  queuedJobs?: number;
  /** Long-lived sandboxes running or sleeping (default 16); one more is a 429. */
  sandboxes?: number;
  /**
   * Long-lived answers open at once: followed lists and events, job logs, pool samples, shells
   * (default MAGS_MAX_STREAMS_PER_OWNER, else 64); one more is a 429.
   */
  streams?: number;
}

/** The pool, the warm cache and sleep; every number has a default that suits one host. */
export interface SchedulingOptions {
  /** Idle pooled sandboxes kept ready (default 2; 0 turns the pool off). */
  poolSize?: number;
  /** The image pooled sandboxes serve (default: the default image). */
  poolImage?: string;
  /** The pool stops refilling above this host memory use, in percent (default 90). */
  poolMaxHostMemoryPercent?: number;
  /** How long a finished run's sandbox stays parked (default 5 minutes; 0 turns parking off). */
  parkTtlMs?: number;
  /** Parked sandboxes at most (default 256). */
  parkMaxCount?: number;
  /** Memory all parked sandboxes may hold (default a tenth of the host's memory). */
  parkMaxMemoryBytes?: number;
  /** Idle time before a long-lived sandbox is frozen (default 10 minutes; 0 never). */
  sleepAfterMs?: number;
}

export interface RunningServer {
  url: string;
  services: ServerServices;
  /**
   * Recovery done at start: `jobs`/`sandboxes` recorded before servers recorded their host,
   * marked failed/stopped; `swept`: what dead sandboxes left; the rest is what gone server
   * processes of this host left (RecoveryReport).
   */
  recovered: { jobs: number; sandboxes: number; swept: number } & RecoveryReport & {
      /** Tickets of gone servers: queued again, or failed (they were running). */
      tickets: { queued: number; failed: number };
      /** Plans of gone servers: driven here again, or failed (they were planning). */
      plans: { resumed: number; failed: number };
      /** Projects a gone server left `importing`: marked failed (a refresh imports them). */
      projectsInterrupted: number;
      /** Cron jobs armed, and those whose times missed meanwhile were recorded or run once. */
      cron: { armed: number; missed: number; caughtUp: number };
    };
  /** This server among the others on its state (absent: one host on its own state). */
  cluster?: ServerCluster;
  /** Its host id (`--host-id`), on its jobs and sandboxes. */
  host: string;
  /** Stops jobs and sandboxes (recorded as stopped by a shutdown), then the listener. */
  close(): Promise<void>;
  /**
   * Lets go of jobs and sandboxes, leaving them running for the next server process on this
   * host (which picks them up: recovery), then closes the listener and the state. For a process
   * about to exit: its connections to the sandboxes end with it.
   */
  detach(): Promise<void>;
}

export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  // First: a bad MAGS_TICKET_* or MAGS_MODEL_PRICES is a clear error before anything starts.
  const ticketConfiguration = ticketSettings(
    options.tickets?.settings,
    options.tickets?.environment,
  );
  checkPlannerSettings(options.tickets?.environment);
  const maxStreamsPerOwner = options.perOwner?.streams ?? maxStreamsPerOwnerFrom(process.env);
  const context =
    options.context ??
    createMagsContext(
      options.runtime === undefined
        ? process.env
        : { ...process.env, MAGS_RUNTIME: options.runtime },
    );
  const repository = options.repository ?? (await openStateRepository(options.state, context.home));
  const hostId = options.hostId ?? process.env.MAGS_HOST_ID;
  const instance = options.instance ?? {
    ...currentServerInstance(),
    ...(hostId ? { host: hostId } : {}),
  };
  // Servers from before host and server were recorded took their sandboxes with them: what they
  // had recorded as running is over, and is marked so with the reason.
  const recovered = await repository.recoverInterrupted(
    'the server stopped while this was running (crash or kill)',
    new Date().toISOString(),
  );
  // What dead sandboxes left (run directories, cgroups), checked one by one for liveness: a live
  // sandbox is never touched, whoever started it (the work of gone servers is recovered below).
  // A runtime without leftovers to sweep (capability `sweep`) has nothing to do here.
  let swept = 0;
  // An API-only server runs no sandbox: nothing of its own to sweep (a host's, on this machine,
  // is that host's).
  for (const runtime of options.cluster?.apiOnly ? [] : Object.values(context.runtimes)) {
    if (runtime.capabilities.sweep) swept += await runtimeOperation(runtime, 'sweep')();
  }
  const scheduling = options.scheduling ?? {};
  const poolImage = scheduling.poolImage ?? context.defaults.image;
  const scheduler = new SandboxScheduler({
    runtime: context.runtime,
    runtimes: context.runtimes,
    pool: {
      size: options.cluster?.apiOnly ? 0 : (scheduling.poolSize ?? 2),
      image: poolImage,
      limits: context.defaults.limits,
      maxHostMemoryPercent: scheduling.poolMaxHostMemoryPercent,
      ready: async () => {
        await context.images.require(poolImage);
        // Before any pooled sandbox exists: the disks of workspaces attached to it later must
        // propagate into its mount namespace.
        await context.workspaces.prepareMounts();
      },
    },
    warm: {
      ttlMs: scheduling.parkTtlMs ?? 5 * 60 * 1000,
      maxCount: scheduling.parkMaxCount ?? 256,
      maxMemoryBytes: scheduling.parkMaxMemoryBytes ?? Math.round(totalmem() / 10),
    },
  });
  context.scheduler = scheduler;
  const sandboxes = new SandboxManager({
    context,
    repository,
    sleepAfterMs: scheduling.sleepAfterMs,
    maxSandboxesPerOwner: options.perOwner?.sandboxes,
    instance,
  });
  scheduler.metrics.gauge('mags_sandboxes_sleeping', 'Long-lived sandboxes frozen.', () => {
    return sandboxes.sleepingCount;
  });
  const retention = new LogRetention(repository, options.logRetention);
  const maxUploadBytes = options.maxUploadBytes ?? defaultMaxUploadBytes;
  const uploads = new UploadStore({
    directory: join(context.home, 'uploads'),
    maxFileBytes: maxUploadBytes,
  });
  const jobs = new JobManager({
    context,
    repository,
    maxConcurrentJobs: options.maxConcurrentJobs,
    maxJobsPerOwner: options.perOwner?.runningJobs,
    maxQueuedJobsPerOwner: options.perOwner?.queuedJobs,
    retention,
    instance,
    uploads,
    execSandboxes: sandboxes,
  });
  const cluster = options.cluster
    ? new ServerCluster({
        repository,
        instance,
        jobs,
        scheduler,
        context,
        sandboxes,
        options: options.cluster,
        log: (line) => process.stderr.write(`mags server: ${line}\n`),
      })
    : undefined;
  jobs.cluster = cluster;
  const projects: ProjectManager = new ProjectManager({
    context,
    repository,
    sandboxes,
    roots: options.projectRoots,
    // A deletion waits for the actions on the project's tickets and refuses new ones meanwhile.
    tickets: {
      whileDeletingProject: <T>(owner: string, name: string, action: () => Promise<T>) =>
        tickets.whileDeletingProject(owner, name, action),
    },
  });
  const ticketParts = options.tickets?.parts ?? builtinTicketParts();
  const tickets: TicketManager = new TicketManager({
    repository,
    sandboxes,
    projects: options.tickets?.projects ?? projects,
    parts: ticketParts,
    workspaces: context.workspaceManager,
    settings: ticketConfiguration,
    environment: options.tickets?.environment,
    instance,
  });
  // Before the pool fills: parked sandboxes found again count against the host's memory first.
  const report = await recoverWork({ context, repository, jobs, sandboxes, instance });
  // After the sandboxes: a recovered ticket's sandbox is attached again first.
  const ticketsRecovered = await tickets.recover();
  const plans = new PlanManager({
    repository,
    tickets,
    projects,
    git: options.plans?.git ?? new ProjectPlanGit({ context, repository, projects, sandboxes }),
    planner: options.plans?.planner ?? createModelPlanner({ prices: ticketConfiguration.prices }),
    checkModel: ticketParts.checkModel,
    environment: options.tickets?.environment,
    settings: options.plans?.settings,
    instance,
  });
  // After the tickets: a plan's items follow what the ticket recovery made of its tickets.
  const plansRecovered = await plans.recover();
  // Imports a stopped server left `importing` (POST /v1/projects answers only when done).
  const projectsInterrupted = await projects.recoverInterrupted();
  // After the tickets are recovered: schedules armed (what was missed while down recorded).
  const triggers = new TriggerManager({
    repository,
    tickets,
    jobs,
    projects,
    plans,
    settings: options.triggers,
    // As for cron: the host's own owner's schedules may name any interval.
    unlimited: (owner) => owner === localOwner,
  });
  await triggers.start();
  scheduler.open();
  const acceptLocalOwner = options.acceptLocalOwner ?? false;
  const disks: DiskLimits = {
    maxDiskMiB: options.disks?.maxDiskMiB ?? defaultDiskLimits.maxDiskMiB,
    ownerDiskQuotaMiB: options.disks?.ownerDiskQuotaMiB ?? defaultDiskLimits.ownerDiskQuotaMiB,
  };
  // After the jobs' recovery: a run a previous server left running counts for overlap.
  const cron = new CronManager({
    repository,
    jobs,
    submit: (owner, body, submitted) =>
      submitRunJob({ jobs, context, disks }, owner, body, submitted),
    settings: options.cron,
    // The host's own owner's cron jobs fire on its local server only, the others' on any.
    firesFor: (owner) => owner !== localOwner || acceptLocalOwner,
    unlimited: (owner) => owner === localOwner,
  });
  const cronStarted = await cron.start();
  const services: ServerServices = {
    context,
    repository,
    jobs,
    uploads,
    sandboxes,
    projects,
    scheduler,
    tickets,
    triggers,
    plans,
    limits: {
      maxJsonBytes: 1024 * 1024,
      maxUploadBytes,
      maxDownloadBytes: options.maxDownloadBytes ?? 1024 ** 3,
      downloadIdleTimeoutMs: options.downloadIdleTimeoutMs ?? 60_000,
      maxStreamsPerOwner,
    },
    disks,
    version: options.version ?? '0.1.0',
    acceptLocalOwner,
    cron,
    ...(cluster ? { cluster } : {}),
  };
  // The links' secret lives in the state directory, beside state.db but never in it.
  services.urls = new SandboxUrls({
    repository,
    sandboxes,
    context,
    signer: await UrlLinkSigner.open(join(context.home, 'url-secret')),
    ...(options.urlDomain ? { domain: options.urlDomain } : {}),
  });
  // Several hosts on one state: a request for a sandbox another host holds is answered there.
  if (cluster) {
    services.forwarder = new HostForwarder({
      repository,
      host: instance.host,
      runsSandboxes: !cluster.apiOnly,
      defaultRuntime: context.runtime.name,
      hostTimeoutMs: cluster.hostTimeoutMs,
      hosts: () => cluster.hostsForPlacement(),
    });
  }
  const { app, injectWebSocket } = createApp(services);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = serve(
      { fetch: app.fetch, hostname: options.host ?? '127.0.0.1', port: options.port ?? 7070 },
      () => resolve(http1(listening)),
    );
    listening.once('error', reject);
  });
  injectWebSocket(server);
  if (services.forwarder) installUpgradeForwarding(server, services, services.forwarder);
  // After the shell's upgrade handler: the proxy takes its requests and upgrades from both.
  const urlProxy = new UrlProxy(services, services.urls);
  installUrlProxy(server, urlProxy);
  // At start (what a stopped server's retention missed) and periodically after.
  retention.start();
  tickets.start();
  // Clients (the SDK's fetch) keep connections open between requests; a server that closes an
  // idle one just as a client reuses it fails that request. Outlive the clients' idle timeout.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // No limit on a whole request: a long upload (a proxied one, a cp) is cut only when idle.
  server.requestTimeout = 0;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  // Listening first: the address it registers answers.
  await cluster?.start(url);
  const closeListener = () =>
    new Promise<void>((resolve) => {
      urlProxy.close();
      server.close(() => resolve());
      // Followers of log streams would hold the listener open; they are told the job ended.
      server.closeAllConnections();
    });
  const close = async (): Promise<void> => {
    // First: no more work is taken from the queue (the host stays listed, beating, until its
    // jobs' ends are recorded below; it leaves last).
    await cluster?.stopTaking();
    retention.stop();
    await cron.stop();
    await triggers.stop();
    // Plans before tickets: they stop reacting before their tickets are stopped (recovery takes
    // them up); after triggers, which create plans.
    await plans.shutdown();
    // First, while the sandboxes still run: from its first moment a ticket run or approval is a
    // 503 (a run queued meanwhile stays queued); an approval in progress is answered before the
    // listener closes.
    await tickets.shutdown();
    await services.jobs.shutdown();
    await services.sandboxes.shutdown();
    await cluster?.close({ remove: true });
    await scheduler.close();
    if (context.scheduler === scheduler) context.scheduler = undefined;
    // Before the listener: each session's open streams end and its tool calls are aborted.
    await services.mcpSessions?.closeAll();
    await closeListener();
    await repository.close();
  };
  return {
    url,
    services,
    ...(cluster ? { cluster } : {}),
    host: instance.host,
    recovered: {
      ...recovered,
      swept,
      ...report,
      tickets: ticketsRecovered,
      plans: plansRecovered,
      projectsInterrupted: projectsInterrupted.length,
      cron: cronStarted,
    },
    async detach() {
      // Sandboxes that cannot outlive this process (no capability reattach) are stopped instead.
      if (!context.runtime.capabilities.reattach) return close();
      // Its record stays: the next server of this host takes it up, or it falls silent and the
      // other servers fail its work.
      await cluster?.close({ remove: false });
      retention.stop();
      await cron.stop();
      await triggers.stop();
      await plans.shutdown();
      // Running agents end here (their conversation is not durable); queued tickets wait.
      await tickets.shutdown();
      // What the jobs printed so far is stored first: the next server continues after it.
      await services.jobs.detach();
      await services.sandboxes.detach();
      await scheduler.detach();
      if (context.scheduler === scheduler) context.scheduler = undefined;
      await services.mcpSessions?.closeAll();
      await closeListener();
      await repository.close();
    },
    close,
  };
}

/** `serve` makes an HTTP/1 server unless given another `createServer` (this file never does). */
function http1(server: ReturnType<typeof serve>): Server {
  if (server instanceof Server) return server;
  throw new Error('mags serves HTTP/1: @hono/node-server returned another kind of server');
}
