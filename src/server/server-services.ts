import { join } from 'node:path';
import type { MagsContext } from '../context/mags-context.ts';
import { JobManager } from '../jobs/job-manager.ts';
import type { LogRetention } from '../jobs/log-retention.ts';
import { UploadStore } from '../jobs/upload-store.ts';
import { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { SandboxScheduler } from '../scheduling/sandbox-scheduler.ts';
import type { StateRepository } from '../state/state-repository.ts';
import { type DiskLimits, defaultDiskLimits } from './disk-limits.ts';
import type { ServerServices } from './server-env.ts';

export interface ServerServicesOptions {
  context: MagsContext;
  repository: StateRepository;
  /** The pool and warm cache (a listening server's); none for the CLI's embedded one. */
  scheduler?: SandboxScheduler;
  retention?: LogRetention;
  maxConcurrentJobs?: number;
  perOwner?: { runningJobs?: number; queuedJobs?: number; sandboxes?: number };
  maxUploadBytes?: number;
  disks?: Partial<DiskLimits>;
  maxDownloadBytes?: number;
  downloadIdleTimeoutMs?: number;
  /** Idle time before a long-lived sandbox is frozen (0: never, and no timer). */
  sleepAfterMs?: number;
  version?: string;
  acceptLocalOwner?: boolean;
  inProcessOwner?: string;
}

/**
 * The managers a server's routes work with, wired once: what a listening server (`startServer`)
 * and the CLI's embedded one (`startEmbeddedServer`) share. No I/O, no timers but the sandbox
 * manager's sleep loop (off with `sleepAfterMs: 0`).
 */
export function createServerServices(options: ServerServicesOptions): ServerServices {
  const { context, repository } = options;
  const maxUploadBytes = options.maxUploadBytes ?? 1024 ** 3;
  const uploads = new UploadStore({
    directory: join(context.home, 'uploads'),
    maxFileBytes: maxUploadBytes,
  });
  return {
    context,
    repository,
    jobs: new JobManager({
      context,
      repository,
      maxConcurrentJobs: options.maxConcurrentJobs,
      maxJobsPerOwner: options.perOwner?.runningJobs,
      maxQueuedJobsPerOwner: options.perOwner?.queuedJobs,
      retention: options.retention,
      uploads,
    }),
    uploads,
    sandboxes: new SandboxManager({
      context,
      repository,
      sleepAfterMs: options.sleepAfterMs,
      maxSandboxesPerOwner: options.perOwner?.sandboxes,
    }),
    scheduler: options.scheduler,
    limits: {
      maxJsonBytes: 1024 * 1024,
      maxUploadBytes,
      maxDownloadBytes: options.maxDownloadBytes ?? 1024 ** 3,
      downloadIdleTimeoutMs: options.downloadIdleTimeoutMs ?? 60_000,
    },
    disks: {
      maxDiskMiB: options.disks?.maxDiskMiB ?? defaultDiskLimits.maxDiskMiB,
      ownerDiskQuotaMiB: options.disks?.ownerDiskQuotaMiB ?? defaultDiskLimits.ownerDiskQuotaMiB,
    },
    version: options.version ?? '0.1.0',
    acceptLocalOwner: options.acceptLocalOwner ?? false,
    inProcessOwner: options.inProcessOwner,
  };
}
