import type { Command } from 'commander';
import { InvalidInputError } from '../../errors/mags-error.ts';

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description('Save a server URL and token for every later command (checked first).')
    .requiredOption('--url <url>', 'the server, e.g. http://build-host:7070')
    .option('--token <token>', 'the API token (default: read from stdin, or MAGS_API_TOKEN)')
    .action(async (flags: { url: string; token?: string }) => {
      const [{ Mags }, { cliConfigPath, readCliConfig, writeCliConfig }, { httpFetch }] =
        await Promise.all([
          import('../../sdk/mags.ts'),
          import('../client/cli-config.ts'),
          import('../client/http-fetch.ts'),
        ]);
      const token = (flags.token ?? process.env.MAGS_API_TOKEN ?? (await readStdin())).trim();
      if (!token) {
        throw new InvalidInputError('No token given.', {
          hint: 'Pipe it in (mags token create --owner NAME | mags login --url URL) or pass --token.',
        });
      }
      const who = await new Mags({ url: flags.url, token, fetch: httpFetch }).whoami();
      await writeCliConfig({ ...(await readCliConfig()), url: flags.url, token });
      process.stderr.write(
        `mags: logged in to ${flags.url} as ${who.owner} (saved in ${cliConfigPath()})\n`,
      );
    });
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
