import { rename, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { parsePositiveNumber } from '../parse-options.ts';

interface ServerFlags {
  host: string;
  port: string;
  maxJobs?: string;
  maxUploadMib?: string;
  local?: boolean;
}

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('Serve the REST API (/v1, OpenAPI at /openapi.json) with live output streaming.')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', '7070')
    .option('--max-jobs <n>', 'jobs running at once; more wait as queued (default 32)')
    .option('--max-upload-mib <n>', 'largest file upload (default 1024)')
    .option(
      '--local',
      "this host's own server for the CLI: loopback, a free port, found via $MAGS_HOME",
    )
    .action(async (flags: ServerFlags) => {
      const { startServer } = await import('../../server/start-server.ts');
      const server = await startServer({
        host: flags.local ? '127.0.0.1' : flags.host,
        port: flags.local ? 0 : parsePort(flags.port),
        maxConcurrentJobs: flags.maxJobs
          ? parsePositiveNumber('--max-jobs', flags.maxJobs, { integer: true })
          : undefined,
        maxUploadBytes: flags.maxUploadMib
          ? parsePositiveNumber('--max-upload-mib', flags.maxUploadMib) * 1024 * 1024
          : undefined,
      });
      const { repository, context } = server.services;
      const say = (line: string) => process.stderr.write(`mags server: ${line}\n`);
      const { recovered } = server;
      if (recovered.jobs + recovered.sandboxes > 0) {
        say(
          `marked ${recovered.jobs} jobs failed and ${recovered.sandboxes} sandboxes stopped that a previous server left running`,
        );
      }
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

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidInputError(`Invalid --port ${JSON.stringify(value)}: expected 0-65535.`);
  }
  return port;
}
