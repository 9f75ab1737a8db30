import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { JobManager } from '../jobs/job-manager.ts';
import { createMagsContext, type MagsContext } from '../jobs/mags-context.ts';
import { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../state/state-repository.ts';
import { createApp } from './create-app.ts';
import type { ServerServices } from './server-env.ts';

export interface StartServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  context?: MagsContext;
  /** Defaults to SQLite at `$MAGS_HOME/state.db`. */
  repository?: StateRepository;
  maxConcurrentJobs?: number;
  maxUploadBytes?: number;
  version?: string;
}

export interface RunningServer {
  url: string;
  services: ServerServices;
  /** Recovery done at start: jobs and sandboxes a previous process left running. */
  recovered: { jobs: number; sandboxes: number };
  /** Stops jobs and sandboxes (recorded as stopped by a shutdown), then the listener. */
  close(): Promise<void>;
}

export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const context = options.context ?? createMagsContext();
  const repository =
    options.repository ?? createSqliteStateRepository(join(context.home, 'state.db'));
  // A previous server that died took its sandboxes with it (they are its children and die with
  // it); what it had recorded as running is therefore over, and is marked so with the reason.
  const recovered = await repository.recoverInterrupted(
    'the server stopped while this was running (crash or kill)',
    new Date().toISOString(),
  );
  const services: ServerServices = {
    context,
    repository,
    jobs: new JobManager({ context, repository, maxConcurrentJobs: options.maxConcurrentJobs }),
    sandboxes: new SandboxManager({ context, repository }),
    limits: { maxJsonBytes: 1024 * 1024, maxUploadBytes: options.maxUploadBytes ?? 1024 ** 3 },
    version: options.version ?? '0.1.0',
  };
  const { app, injectWebSocket } = createApp(services);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const listening = serve(
      { fetch: app.fetch, hostname: options.host ?? '127.0.0.1', port: options.port ?? 7070 },
      () => resolve(listening),
    );
    listening.once('error', reject);
  });
  injectWebSocket(server);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    services,
    recovered,
    async close() {
      await services.jobs.shutdown();
      await services.sandboxes.shutdown();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Followers of log streams would hold the listener open; they are told the job ended.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await repository.close();
    },
  };
}
