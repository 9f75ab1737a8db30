/**
 * The API app (`createApp`) wired like `startServer` does, on the fake runtime and a throw-away
 * SQLite database, without a listening socket: requests go through `app.request()`.
 */
import { join } from 'node:path';
import { CronManager } from '../../src/cron/cron-manager.ts';
import type { CronSettings } from '../../src/cron/cron-settings.ts';
import { JobManager } from '../../src/jobs/job-manager.ts';
import { UploadStore } from '../../src/jobs/upload-store.ts';
import { ProjectPlanGit } from '../../src/plans/git/project-plan-git.ts';
import { PlanManager } from '../../src/plans/plan-manager.ts';
import { createModelPlanner } from '../../src/plans/planner/model-planner.ts';
import { ProjectManager } from '../../src/projects/project-manager.ts';
import { SandboxManager } from '../../src/sandboxes/sandbox-manager.ts';
import { SandboxScheduler } from '../../src/scheduling/sandbox-scheduler.ts';
import { createApp, type ServerApp } from '../../src/server/create-app.ts';
import { defaultDiskLimits } from '../../src/server/disk-limits.ts';
import { defaultMaxStreamsPerOwner } from '../../src/server/owner-streams.ts';
import type { ServerServices } from '../../src/server/server-env.ts';
import { submitRunJob } from '../../src/server/submit-run-job.ts';
import { createToken } from '../../src/server/tokens.ts';
import { createSqliteStateRepository } from '../../src/state/sqlite/sqlite-state-repository.ts';
import { builtinTicketParts } from '../../src/tickets/builtin-ticket-parts.ts';
import { TicketManager } from '../../src/tickets/ticket-manager.ts';
import { TriggerManager } from '../../src/triggers/trigger-manager.ts';
import { createTestContext, type FakeTestContext } from './test-context.ts';

export interface TestApp {
  app: ServerApp;
  /** Attaches the shell's WebSocket upgrade to a listening server (for a test that serves). */
  injectWebSocket: ReturnType<typeof createApp>['injectWebSocket'];
  services: ServerServices;
  fake: FakeTestContext;
  /** A new token for `owner`, and its id. */
  token(owner: string, options?: { admin?: boolean }): Promise<{ token: string; id: string }>;
  /** `app.request` with the token as a bearer and a JSON body when given one. */
  request(
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Response>;
  close(): Promise<void>;
}

export async function createTestApp(
  options: {
    cron?: Partial<CronSettings>;
    dashboardDirectory?: string;
    /** Long-lived answers one owner may hold open (default 64, as a server). */
    maxStreamsPerOwner?: number;
    /** Its context's options (several fake runtimes, say). */
    context?: Parameters<typeof createTestContext>[0];
  } = {},
): Promise<TestApp> {
  const fake = await createTestContext(options.context);
  const { context } = fake;
  const repository = createSqliteStateRepository(join(fake.home, 'state.db'));
  // What startServer wires (src/server/start-server.ts), minus the listener, the pool's refill
  // and the background timers: those belong to a running server, not to a route.
  const scheduler = new SandboxScheduler({
    runtime: context.runtime,
    runtimes: context.runtimes,
    pool: {
      size: 0,
      image: context.defaults.image,
      limits: context.defaults.limits,
      ready: async () => {},
    },
    warm: { ttlMs: 60_000, maxCount: 16, maxMemoryBytes: 1024 ** 3 },
  });
  context.scheduler = scheduler;
  const uploads = new UploadStore({
    directory: join(fake.home, 'uploads'),
    maxFileBytes: 1024 * 1024,
  });
  const sandboxes = new SandboxManager({ context, repository, sleepAfterMs: 0 });
  // Host paths: only under the test's home (as MAGS_PROJECT_ROOTS would allow on a shared server).
  const projects = new ProjectManager({ context, repository, sandboxes, roots: [fake.home] });
  const jobs = new JobManager({ context, repository, killGraceMs: 100, uploads });
  // Armed as its cron jobs are added (startServer also arms the stored ones at start).
  const cron = new CronManager({
    repository,
    jobs,
    submit: (owner, body, submitted) =>
      submitRunJob({ jobs, context, disks: defaultDiskLimits }, owner, body, submitted),
    settings: options.cron,
    environment: {},
    log: () => {},
  });
  const parts = builtinTicketParts();
  // In-process routes read and change stored tickets; running one needs the real parts (a
  // server: test/ticket-api.test.ts).
  const tickets = new TicketManager({
    repository,
    sandboxes,
    projects,
    parts,
    environment: {},
    log: () => {},
  });
  const plans = new PlanManager({
    repository,
    tickets,
    projects,
    git: new ProjectPlanGit({ context, repository, projects, sandboxes }),
    planner: createModelPlanner(),
    checkModel: parts.checkModel,
    environment: {},
    log: () => {},
  });
  const services: ServerServices = {
    context,
    repository,
    jobs,
    uploads,
    sandboxes,
    projects,
    scheduler,
    tickets,
    // Not started: no schedules armed, no events heard (a running server's: test/triggers*.test.ts).
    triggers: new TriggerManager({ repository, tickets, projects, plans, log: () => {} }),
    plans,
    limits: {
      maxJsonBytes: 1024 * 1024,
      maxUploadBytes: 1024 * 1024,
      maxDownloadBytes: 1024 * 1024,
      downloadIdleTimeoutMs: 10_000,
      maxStreamsPerOwner: options.maxStreamsPerOwner ?? defaultMaxStreamsPerOwner,
    },
    disks: defaultDiskLimits,
    version: '0.0.0-test',
    acceptLocalOwner: false,
    cron,
    dashboardDirectory: options.dashboardDirectory,
  };
  const { app, injectWebSocket } = createApp(services);
  return {
    app,
    injectWebSocket,
    services,
    fake,
    async token(owner, options) {
      const { token, record } = await createToken(repository, owner, 'test', options);
      return { token, id: record.id };
    },
    request(token, method, path, body) {
      const headers: Record<string, string> = {};
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      let payload: RequestInit['body'];
      if (typeof body === 'string' || body instanceof Uint8Array)
        payload = body as RequestInit['body'];
      else if (body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(body);
      }
      return Promise.resolve(app.request(path, { method, headers, body: payload }));
    },
    async close() {
      await cron.stop();
      await services.jobs.shutdown();
      await services.sandboxes.shutdown();
      await scheduler.close();
      await repository.close();
      await fake.cleanup();
    },
  };
}
