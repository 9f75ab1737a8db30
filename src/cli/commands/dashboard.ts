import type { Command } from 'commander';
import { resolveMagsHome } from '../../config/mags-home.ts';

/**
 * `mags dashboard`: where the web dashboard is and what to sign in with. Without a chosen server
 * it starts this host's local server (loopback only) and prints its token, which is accepted
 * while that server runs; with one (--url, MAGS_URL, mags login) it names that server's page.
 */
export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('Print the web dashboard address and the token to sign in with.')
    .action(async (_flags: unknown, command: Command) => {
      const [{ readCliConfig }, { ensureLocalServer }] = await Promise.all([
        import('../client/cli-config.ts'),
        import('../client/local-server.ts'),
      ]);
      const chosen =
        (command.optsWithGlobals() as { url?: string }).url ??
        process.env.MAGS_URL ??
        (await readCliConfig()).url;
      if (chosen) {
        process.stdout.write(`${chosen.replace(/\/+$/, '')}/\n`);
        process.stderr.write(
          'mags: sign in there with your API token (mags token create --owner NAME makes one).\n',
        );
        return;
      }
      const local = await ensureLocalServer(resolveMagsHome());
      process.stdout.write(`${local.url}/\n`);
      process.stderr.write(
        `mags: this host's local server (pid ${local.pid}), on loopback only. Sign in with this token, valid while it runs (mags server stop ends it):\n`,
      );
      process.stdout.write(`${local.token}\n`);
    });
}
