import type { Command } from 'commander';
import { parseDurationMs } from '../../config/duration.ts';
import { resolveMagsHome } from '../../config/mags-home.ts';
import { DependencyMissingError } from '../../errors/mags-error.ts';
import type { Mags } from '../../sdk/mags.ts';
import type { SandboxUrl } from '../../sdk/sandbox-urls-client.ts';
import { remoteClient } from '../client/api-client.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { httpFetch } from '../client/http-fetch.ts';
import { findLocalServer } from '../client/local-server.ts';
import { printJson, printTable } from '../output.ts';

/**
 * `mags url NAME PORT`, `mags url list [NAME]`, `mags url revoke ID`: URLs to a long-lived
 * sandbox's ports, served by a server's proxy (README, "Sandbox URLs").
 */
export function registerUrlCommand(program: Command): void {
  const url = program
    .command('url')
    .description(
      'Print a URL that reaches PORT inside the long-lived sandbox NAME through the server (HTTP and WebSocket); private unless --public. mags url list | revoke ID.',
    )
    .argument('[name]', 'the sandbox')
    .argument('[port]', 'the TCP port its server listens on')
    .option(
      '--public',
      "anyone with the URL may open it (default: the owner's token or a signed link)",
    )
    .option(
      '--expires <duration>',
      'the URL ends after this long (90s, 30m, 1h, 7d; at most 30d); a private one then gets a signed link that needs no token',
    )
    .option('--json', 'print the URL record as JSON')
    .action(async (name: string | undefined, port: string | undefined, flags, command: Command) => {
      if (!name || !port) {
        throw new CommandUsageError('mags url needs a sandbox and a port: mags url NAME PORT.', {
          hint: 'e.g. mags url web 8080 --expires 1h; mags url list shows the URLs you have.',
        });
      }
      const portNumber = Number(port);
      if (!/^\d+$/.test(port) || portNumber < 1 || portNumber > 65535) {
        throw new CommandUsageError(`${JSON.stringify(port)} is not a TCP port.`, {
          hint: 'Give a port from 1 to 65535: mags url NAME 8080.',
        });
      }
      let expiresInSeconds: number | undefined;
      if (flags.expires !== undefined) {
        const milliseconds = parseDurationMs(flags.expires);
        if (milliseconds === undefined || milliseconds < 1000) {
          throw new CommandUsageError(
            `--expires ${JSON.stringify(flags.expires)} is not a duration.`,
            {
              hint: 'e.g. --expires 90s, 30m, 1h or 7d (at most 30d).',
            },
          );
        }
        expiresInSeconds = Math.round(milliseconds / 1000);
      }
      const mags = await urlClient(command);
      const made = await mags.sandboxes.urls.create(name, {
        port: portNumber,
        public: flags.public ?? false,
        ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
      });
      if (flags.json) {
        printJson(made);
        return;
      }
      process.stdout.write(`${made.signedUrl ?? made.url}\n`);
      const until = made.expiresAt ? ` until ${made.expiresAt}` : '';
      if (made.public) {
        process.stderr.write(
          `mags: ${made.id}: anyone with this URL reaches port ${made.port} of ${name}${until}\n`,
        );
      } else if (made.signedUrl) {
        process.stderr.write(
          `mags: ${made.id}: private; this signed link opens it without a token${until} (the URL alone needs the owner's token)\n`,
        );
      } else {
        process.stderr.write(
          `mags: ${made.id}: private; a request needs the owner's token (Authorization: Bearer TOKEN), or make a signed link: mags url ${name} ${made.port} --expires 1h\n`,
        );
      }
    });

  url
    .command('list')
    .description('The URLs you have (of one sandbox when named), not revoked.')
    .argument('[name]', 'the sandbox')
    .option('--json', 'print them as JSON')
    .action(async (name: string | undefined, flags: { json?: boolean }, command: Command) => {
      const mags = await urlClient(command);
      const urls = await mags.sandboxes.urls.list(name);
      if (flags.json) {
        printJson(urls);
        return;
      }
      printTable(['ID', 'SANDBOX', 'PORT', 'ACCESS', 'EXPIRES', 'URL'], urls.map(row));
    });

  url
    .command('revoke')
    .description('Revoke a URL: its address and signed links answer 404 from now on.')
    .argument('<id>')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const mags = await urlClient(command);
      await mags.sandboxes.urls.revoke(id);
      process.stderr.write(`mags: ${id} revoked\n`);
    });
}

function row(url: SandboxUrl): string[] {
  return [
    url.id,
    url.sandbox,
    String(url.port),
    url.public ? 'public' : 'private',
    url.expiresAt ?? '-',
    url.url,
  ];
}

/**
 * A URL is served by a server's proxy: the chosen server (--url, MAGS_URL, mags login), else this
 * host's local server when it runs (its sandboxes are there; its URLs are on loopback only).
 * Without either there is nothing to serve it, which the error says rather than starting one.
 */
async function urlClient(command: Command): Promise<Mags> {
  const remote = await remoteClient(command);
  if (remote) return remote;
  const local = await findLocalServer(resolveMagsHome());
  if (local) {
    const { Mags } = await import('../../sdk/mags.ts');
    return new Mags({ ...local, fetch: httpFetch });
  }
  throw new DependencyMissingError(
    "mags url needs a server: a sandbox URL is served by the server's proxy, and no server runs here.",
    {
      code: 'server_required',
      hint: 'Start one (mags server --host 0.0.0.0 [--url-domain DOMAIN]) and point the CLI at it (MAGS_URL, or mags login --url http://HOST:7070), then mags new NAME and mags url NAME PORT.',
    },
  );
}
