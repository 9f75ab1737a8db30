import { rename, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatBytes, parseSizeMiB } from '../../config/byte-sizes.ts';
import { processExists } from '../../config/process-exists.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { addAllowOptions, allowOption } from '../allow-flags.ts';
import { parseDiskMiB, parseMemoryMiB, parsePositiveNumber } from '../parse-options.ts';
import {
  addServerClusterOptions,
  type ServerClusterFlags,
  serverClusterOptions,
} from './server-cluster-flags.ts';
import { registerServerStopCommand, stopSandboxesSignal } from './server-stop.ts';

interface ServerFlags extends ServerClusterFlags {
  host: string;
  port: string;
  maxJobs?: string;
  maxJobsPerOwner?: string;
  maxQueuedPerOwner?: string;
  maxSandboxesPerOwner?: string;
  maxUploadMib?: string;
  maxDownloadMib?: string;
  local?: boolean;
  poolSize: string;
  poolImage?: string;
  parkSeconds: string;
  parkMax: string;
  parkMemory?: string;
  sleepAfter: string;
  logRetentionDays: string;
  logOwnerQuota: string;
  logMaxTotal: string;
  disk?: string;
  maxDisk?: string;
  ownerDiskQuota?: string;
  stopSandboxesOnExit?: boolean;
  runtime?: string;
  allowHost: string[];
  allowCidr: string[];
  urlDomain?: string;
  state?: string;
  k8sImage?: string;
  k8sNamespace?: string;
  k8sRuntimeClass?: string;
  k8sAllowHostUsers?: boolean;
}

export function registerServerCommand(program: Command): void {
  const serverCommand = program.command('server');
  registerServerStopCommand(serverCommand);
  addServerClusterOptions(serverCommand);
  addAllowOptions(serverCommand, 'server')
    .description('Serve the REST API (/v1, OpenAPI at /openapi.json) with live output streaming.')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', '7070')
    .option('--max-jobs <n>', 'jobs running at once; more wait as queued (default 32)')
    .option(
      '--max-jobs-per-owner <n>',
      'jobs one owner may have running at once, execs included; more wait (default 8)',
    )
    .option(
      '--max-queued-per-owner <n>',
      'jobs one owner may have queued; more are refused with 429 (default 64)',
    )
    .option(
      '--max-sandboxes-per-owner <n>',
      'long-lived sandboxes one owner may have running or sleeping (default 16)',
    )
    .option('--max-upload-mib <n>', 'largest file upload (default 1024)')
    .option('--max-download-mib <n>', 'largest file download, streamed (default 1024)')
    .option('--pool-size <n>', 'sandboxes kept started and ready to claim (0: no pool)', '2')
    .option('--pool-image <name>', 'the image pooled sandboxes serve (default "default")')
    .option(
      '--park-seconds <n>',
      "how long a finished run's sandbox stays parked for its workspace's next run (0: never)",
      '300',
    )
    .option('--park-max <n>', 'parked sandboxes at most; the oldest go first', '256')
    .option(
      '--park-memory <size>',
      'memory all parked sandboxes may hold: 512m, 4g (default a tenth of RAM)',
    )
    .option(
      '--sleep-after <seconds>',
      'freeze a long-lived sandbox idle this long (0: never; mags set NAME --no-sleep)',
      '600',
    )
    .option(
      '--log-retention-days <n>',
      "finished jobs' output is removed after this many days (0: kept until a size limit)",
      '7',
    )
    .option(
      '--log-owner-quota <size>',
      "stored output per owner: 512m, 2g; their oldest finished jobs' output goes first",
      '2g',
    )
    .option(
      '--log-max-total <size>',
      "stored output of all owners together; the oldest finished jobs' output goes first",
      '10g',
    )
    .option(
      '--disk <size>',
      "the disk of a new workspace (and of a run's throw-away layer) when a request gives none: 20g (default 10g, or MAGS_DISK)",
    )
    .option(
      '--max-disk <size>',
      'the largest disk a request may ask for (larger: 400); default 100g, none with --local',
    )
    .option(
      '--owner-disk-quota <size>',
      "the disks of one owner's workspaces together (more: 409 owner_disk_quota); default 1t, none with --local",
    )
    .option(
      '--stop-sandboxes-on-exit',
      'on SIGTERM/SIGINT stop every job and sandbox (default: leave them running; the next server on this host picks them up; SIGUSR2 always stops them)',
    )
    .option(
      '--runtime <name>',
      'the default runtime of runs and sandboxes that name none: namespace, qemu, kubernetes (default $MAGS_RUNTIME, else namespace)',
    )
    .option(
      '--local',
      "this host's own server for the CLI: loopback, a free port, found via $MAGS_HOME",
    )
    .option(
      '--url-domain <domain>',
      'sandbox URLs (mags url) take the host form PORT-NAME-TAG.DOMAIN (a wildcard DNS name pointing here); default: the path form /u/ID/',
    )
    .option(
      '--state <location>',
      'where the state lives: postgres://USER:PASSWORD@HOST:PORT/DB, shared by several servers, or a SQLite file (default $MAGS_STATE, else $MAGS_HOME/state.db)',
    )
    .option(
      '--k8s-image <ref>',
      'the kubernetes runtime: the sandbox image the nodes pull (mags image build --oci, pushed); default $MAGS_K8S_IMAGE',
    )
    .option(
      '--k8s-namespace <name>',
      'the kubernetes runtime: the namespace of sandbox pods (default $MAGS_K8S_NAMESPACE, else mags-sandboxes)',
    )
    .option(
      '--k8s-runtime-class <name>',
      'the kubernetes runtime: runtimeClassName of sandbox pods, e.g. gvisor or kata (default $MAGS_K8S_RUNTIME_CLASS)',
    )
    .option(
      '--k8s-allow-host-users',
      "the kubernetes runtime: run pods without a user namespace where the cluster has none (MAGS_K8S_HOST_USERS=true); a sandbox's root is then the node's root unless --k8s-runtime-class isolates it (gVisor, Kata)",
    )
    .action(async (flags: ServerFlags) => {
      const [{ startServer: start }, { createMagsContext }, stateLocation] = await Promise.all([
        import('../../server/start-server.ts'),
        import('../../context/mags-context.ts'),
        import('../../state/open-state-repository.ts'),
      ]);
      const state = flags.state ?? process.env.MAGS_STATE;
      // A server that cannot start exits: a connection it opened (to PostgreSQL) would keep this
      // process alive with nothing to serve.
      const startServer = (options: Parameters<typeof start>[0]) =>
        start(options).catch(async (error: unknown) => {
          const { reportError } = await import('../report-error.ts');
          process.exit(reportError(error));
        });
      if (flags.disk) parseDiskMiB(flags.disk);
      const defaultAllow = allowOption(flags.allowHost, flags.allowCidr);
      const magsContext = createMagsContext({
        ...process.env,
        ...(flags.disk ? { MAGS_DISK: flags.disk } : {}),
        ...(flags.runtime ? { MAGS_RUNTIME: flags.runtime } : {}),
        ...(flags.k8sImage ? { MAGS_K8S_IMAGE: flags.k8sImage } : {}),
        ...(flags.k8sNamespace ? { MAGS_K8S_NAMESPACE: flags.k8sNamespace } : {}),
        ...(flags.k8sRuntimeClass ? { MAGS_K8S_RUNTIME_CLASS: flags.k8sRuntimeClass } : {}),
        ...(flags.k8sAllowHostUsers ? { MAGS_K8S_HOST_USERS: 'true' } : {}),
        // The kubernetes runtime labels and lists its pods by the host id the server records.
        ...(flags.hostId ? { MAGS_HOST_ID: flags.hostId } : {}),
      });
      if (defaultAllow.allow) magsContext.defaults.allow = defaultAllow.allow;
      // A bad --state is refused before anything starts.
      const location = stateLocation.parseStateLocation(state, magsContext.home);
      const clustering = serverClusterOptions(flags, state, flags.local ? '127.0.0.1' : flags.host);
      const server = await startServer({
        context: magsContext,
        host: flags.local ? '127.0.0.1' : flags.host,
        port: flags.local ? 0 : parsePort(flags.port),
        acceptLocalOwner: flags.local ?? false,
        ...(flags.urlDomain ? { urlDomain: parseUrlDomain(flags.urlDomain) } : {}),
        maxConcurrentJobs: flags.maxJobs
          ? parsePositiveNumber('--max-jobs', flags.maxJobs, { integer: true })
          : undefined,
        perOwner: perOwnerLimits(flags),
        disks: diskLimits(flags),
        maxUploadBytes: flags.maxUploadMib
          ? parsePositiveNumber('--max-upload-mib', flags.maxUploadMib) * 1024 * 1024
          : undefined,
        maxDownloadBytes: flags.maxDownloadMib
          ? parsePositiveNumber('--max-download-mib', flags.maxDownloadMib) * 1024 * 1024
          : undefined,
        scheduling: {
          poolSize: parseCount('--pool-size', flags.poolSize),
          poolImage: flags.poolImage,
          parkTtlMs: parseCount('--park-seconds', flags.parkSeconds) * 1000,
          parkMaxCount: parseCount('--park-max', flags.parkMax),
          parkMaxMemoryBytes: flags.parkMemory
            ? parseMemoryMiB(flags.parkMemory, '--park-memory') * 1024 * 1024
            : undefined,
          sleepAfterMs: parseCount('--sleep-after', flags.sleepAfter) * 1000,
        },
        logRetention: {
          maxAgeMs: parseCount('--log-retention-days', flags.logRetentionDays) * 24 * 3600 * 1000,
          maxOwnerBytes: parseSizeMiB(flags.logOwnerQuota, '--log-owner-quota', 1) * 1024 * 1024,
          maxTotalBytes: parseSizeMiB(flags.logMaxTotal, '--log-max-total', 1) * 1024 * 1024,
        },
        state,
        ...clustering,
      });
      const { repository, context } = server.services;
      const say = (line: string) => process.stderr.write(`mags server: ${line}\n`);
      const { recovered } = server;
      if (recovered.jobs + recovered.sandboxes > 0) {
        say(
          `marked ${recovered.jobs} jobs failed and ${recovered.sandboxes} sandboxes stopped that a previous server left running`,
        );
      }
      if (recovered.jobsContinued + recovered.sandboxesReattached + recovered.parked > 0) {
        say(
          `picked up what a previous server left: ${recovered.jobsContinued} jobs continue, ${recovered.sandboxesReattached} sandboxes attached again, ${recovered.parked} parked`,
        );
      }
      if (recovered.jobsFailed + recovered.sandboxesGone > 0) {
        say(
          `${recovered.jobsFailed} jobs failed and ${recovered.sandboxesGone} sandboxes marked stopped: their sandboxes ended while no server was running`,
        );
      }
      if (recovered.cron.armed > 0) {
        say(
          `cron: ${recovered.cron.armed} cron jobs armed; missed times: ${recovered.cron.missed} recorded as missed, ${recovered.cron.caughtUp} run once`,
        );
      }
      if (recovered.swept > 0) {
        say(`removed what ${recovered.swept} sandboxes of a previous server left on disk`);
      }
      const { pool, warm } = await server.services.scheduler.status();
      say(
        `runtimes: ${Object.keys(context.runtimes).join(', ')} (default ${context.runtime.name}); pool: ${pool.size} ready ${pool.runtime} sandboxes on image ${pool.image}; warm cache: parks for ${warm.ttlMs / 1000} s, at most ${warm.maxCount} / ${Math.round(warm.maxMemoryBytes / 1024 / 1024)} MiB`,
      );
      let discovery: string | undefined;
      let revokeLocalToken = async () => {};
      if (flags.local) {
        const [tokens, { localServerFile }] = await Promise.all([
          import('../../server/tokens.ts'),
          import('../client/local-server.ts'),
        ]);
        // Those of local servers that died without revoking theirs (SIGKILL, a crash).
        await tokens.revokeStaleLocalServerTokens(repository, processExists);
        const { token, record } = await tokens.createLocalServerToken(
          repository,
          tokens.localServerTokenName(process.pid),
        );
        revokeLocalToken = () => tokens.revokeToken(repository, record.id).catch(() => {});
        discovery = localServerFile(context.home);
        const temporary = `${discovery}.${process.pid}.tmp`;
        await writeFile(temporary, JSON.stringify({ url: server.url, token, pid: process.pid }), {
          mode: 0o600,
        });
        await rename(temporary, discovery);
      } else if ((await repository.listTokens()).every((token) => token.revokedAt)) {
        say(
          `no API tokens yet: create one with  mags token create --owner NAME${state === undefined ? '' : ' --state LOCATION (the same as this server)'}`,
        );
      }
      const retention = server.services.jobs.retention;
      if (retention) {
        const age = retention.maxAgeMs > 0 ? `${flags.logRetentionDays} days` : 'no age limit';
        say(
          `job output: kept ${age}, ${formatBytes(retention.maxOwnerBytes)} an owner, ${formatBytes(retention.maxTotalBytes)} in all`,
        );
      }
      say(`listening on ${server.url} (state: ${stateLocation.describeStateLocation(location)})`);
      say(`dashboard: ${server.url}/ (sign in with an API token)`);
      const cluster = server.cluster;
      say(
        cluster
          ? `host ${cluster.host}, ${cluster.apiOnly ? 'API only: every run is placed on a live host' : 'API and host: runs here or on another live host'} (heartbeat every ${cluster.heartbeatMs / 1000} s, a host silent ${cluster.hostTimeoutMs / 1000} s is declared gone)`
          : `host ${server.host}, API and host on its own state`,
      );
      const shutdown = async (stopSandboxes = flags.stopSandboxesOnExit) => {
        // Sandboxes outlive the server: by default they and their jobs run on, and the next
        // server on this host (a restart, an upgrade; for --local the CLI's next command starts
        // one) attaches them again and applies the sleep policy from their last use.
        say(
          stopSandboxes
            ? 'shutting down: stopping jobs and sandboxes'
            : 'shutting down: jobs and sandboxes keep running; the next server on this host picks them up (--stop-sandboxes-on-exit stops them)',
        );
        if (discovery) await rm(discovery, { force: true });
        await revokeLocalToken();
        if (stopSandboxes) await server.close();
        else await server.detach();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown());
      process.once('SIGTERM', () => void shutdown());
      // `mags server stop --stop-sandboxes`: this once, as --stop-sandboxes-on-exit.
      process.once(stopSandboxesSignal, () => void shutdown(true));
    });
}

/**
 * The local server has one owner (this host), for whom limits on running jobs and sandboxes
 * would only cap the host's own use of itself: off there unless given. The queue stays bounded.
 */
function perOwnerLimits(flags: ServerFlags) {
  const limit = (flag: string, value: string | undefined, offWhenLocal: boolean) => {
    if (value !== undefined) return parsePositiveNumber(flag, value, { integer: true });
    return flags.local && offWhenLocal ? Number.POSITIVE_INFINITY : undefined;
  };
  return {
    runningJobs: limit('--max-jobs-per-owner', flags.maxJobsPerOwner, true),
    queuedJobs: limit('--max-queued-per-owner', flags.maxQueuedPerOwner, false),
    sandboxes: limit('--max-sandboxes-per-owner', flags.maxSandboxesPerOwner, true),
  };
}

/** Workspace disks; like the other per-owner limits, off for the host's own server unless given. */
function diskLimits(flags: ServerFlags) {
  const limit = (flag: string, value: string | undefined) => {
    if (value !== undefined) return parseDiskMiB(value, flag);
    return flags.local ? Number.POSITIVE_INFINITY : undefined;
  };
  return {
    maxDiskMiB: limit('--max-disk', flags.maxDisk),
    ownerDiskQuotaMiB: limit('--owner-disk-quota', flags.ownerDiskQuota),
  };
}

/** A whole number that may be 0 (0 turns the feature off). */
function parseCount(flag: string, value: string): number {
  const count = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(count)) {
    throw new InvalidInputError(`Invalid ${flag} ${JSON.stringify(value)}: expected 0 or more.`);
  }
  return count;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidInputError(`Invalid --port ${JSON.stringify(value)}: expected 0-65535.`);
  }
  return port;
}

/** A DNS name of at least two labels (`example.test`), kept lower case. */
function parseUrlDomain(value: string): string {
  const domain = value.trim().replace(/\.$/, '').toLowerCase();
  if (
    !/^(?=.{1,200}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(
      domain,
    )
  ) {
    throw new InvalidInputError(`--url-domain ${JSON.stringify(value)} is not a DNS name.`, {
      hint: 'Give the domain whose wildcard (*.DOMAIN) points at this server, e.g. --url-domain sandboxes.example.com.',
    });
  }
  return domain;
}
