import { rename, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { parseDiskMiB, parseMemoryMiB, parsePositiveNumber } from '../parse-options.ts';

interface ServerFlags {
  host: string;
  port: string;
  maxJobs?: string;
  maxUploadMib?: string;
  local?: boolean;
  poolSize: string;
  poolImage?: string;
  parkSeconds: string;
  parkMax: string;
  parkMemory?: string;
  sleepAfter: string;
  disk?: string;
}

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('Serve the REST API (/v1, OpenAPI at /openapi.json) with live output streaming.')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', '7070')
    .option('--max-jobs <n>', 'jobs running at once; more wait as queued (default 32)')
    .option('--max-upload-mib <n>', 'largest file upload (default 1024)')
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
      '--disk <size>',
      "the disk of a new workspace (and of a run's throw-away layer) when a request gives none: 20g (default 10g, or MAGS_DISK)",
    )
    .option(
      '--local',
      "this host's own server for the CLI: loopback, a free port, found via $MAGS_HOME",
    )
    .action(async (flags: ServerFlags) => {
      const [{ startServer }, { createMagsContext }] = await Promise.all([
        import('../../server/start-server.ts'),
        import('../../jobs/mags-context.ts'),
      ]);
      if (flags.disk) parseDiskMiB(flags.disk);
      const server = await startServer({
        context: createMagsContext(
          flags.disk ? { ...process.env, MAGS_DISK: flags.disk } : process.env,
        ),
        host: flags.local ? '127.0.0.1' : flags.host,
        port: flags.local ? 0 : parsePort(flags.port),
        maxConcurrentJobs: flags.maxJobs
          ? parsePositiveNumber('--max-jobs', flags.maxJobs, { integer: true })
          : undefined,
        maxUploadBytes: flags.maxUploadMib
          ? parsePositiveNumber('--max-upload-mib', flags.maxUploadMib) * 1024 * 1024
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
      });
      const { repository, context } = server.services;
      const say = (line: string) => process.stderr.write(`mags server: ${line}\n`);
      const { recovered } = server;
      if (recovered.jobs + recovered.sandboxes > 0) {
        say(
          `marked ${recovered.jobs} jobs failed and ${recovered.sandboxes} sandboxes stopped that a previous server left running`,
        );
      }
      if (recovered.swept > 0) {
        say(`removed what ${recovered.swept} sandboxes of a previous server left on disk`);
      }
      const { pool, warm } = await server.services.scheduler.status();
      say(
        `pool: ${pool.size} ready sandboxes on image ${pool.image}; warm cache: parks for ${warm.ttlMs / 1000} s, at most ${warm.maxCount} / ${Math.round(warm.maxMemoryBytes / 1024 / 1024)} MiB`,
      );
      let discovery: string | undefined;
      if (flags.local) {
        const [{ createToken }, { localServerFile }, { localOwner }] = await Promise.all([
          import('../../server/tokens.ts'),
          import('../client/local-server.ts'),
          import('../../jobs/owner-workspace.ts'),
        ]);
        const { token } = await createToken(repository, localOwner, `local-server-${process.pid}`);
        discovery = localServerFile(context.home);
        const temporary = `${discovery}.${process.pid}.tmp`;
        await writeFile(temporary, JSON.stringify({ url: server.url, token, pid: process.pid }), {
          mode: 0o600,
        });
        await rename(temporary, discovery);
      } else if ((await repository.listTokens()).every((token) => token.revokedAt)) {
        say('no API tokens yet: create one with  mags token create --owner NAME');
      }
      say(`listening on ${server.url} (state: ${context.home}/state.db)`);
      const shutdown = async () => {
        say('shutting down: stopping jobs and sandboxes');
        if (discovery) await rm(discovery, { force: true });
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown());
      process.once('SIGTERM', () => void shutdown());
    });
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
