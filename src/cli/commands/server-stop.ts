import type { Command } from 'commander';
import { resolveMagsHome } from '../../config/mags-home.ts';
import { processExists } from '../../config/process-exists.ts';
import { MagsError, NotFoundError } from '../../errors/mags-error.ts';
import { findLocalServer } from '../client/local-server.ts';

/** How long a local server is given to shut down after the signal. */
const stopTimeoutMs = 30_000;

/**
 * The signal that asks a server to shut down stopping its jobs and sandboxes too, as
 * `--stop-sandboxes-on-exit` makes SIGTERM do (`mags server stop --stop-sandboxes`).
 */
export const stopSandboxesSignal = 'SIGUSR2';

/**
 * `mags server stop`: this host's local server (the one the CLI starts on demand without
 * MAGS_URL, found through $MAGS_HOME/local-server.json) is sent SIGTERM and waited for. Its
 * sandboxes and jobs outlive it by design: the next server (the next mags command) adopts them.
 */
export function registerServerStopCommand(server: Command): void {
  server
    .command('stop')
    .description(
      "Stop this host's local server (started by the CLI without MAGS_URL). Its jobs and sandboxes keep running and the next server adopts them, unless --stop-sandboxes.",
    )
    .option('--stop-sandboxes', 'also stop its jobs and sandboxes (as --stop-sandboxes-on-exit)')
    .action(async (flags: { stopSandboxes?: boolean }) => {
      const home = resolveMagsHome();
      const local = await findLocalServer(home);
      if (!local) {
        throw new NotFoundError(`No local mags server runs for ${home}.`, {
          code: 'local_server_not_running',
          hint: 'Nothing to stop. A server started by hand (mags server) stops with Ctrl-C, kill, or its service manager.',
        });
      }
      process.kill(local.pid, flags.stopSandboxes ? stopSandboxesSignal : 'SIGTERM');
      const deadline = Date.now() + stopTimeoutMs;
      while (processExists(local.pid)) {
        if (Date.now() > deadline) {
          throw new MagsError(
            `The local server (pid ${local.pid}) did not exit within ${stopTimeoutMs / 1000} s.`,
            {
              code: 'local_server_stop_timeout',
              hint: `Its log is ${home}/server.log; kill -9 ${local.pid} ends it (its sandboxes run on).`,
            },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      process.stderr.write(
        flags.stopSandboxes
          ? `mags: stopped this host's local server (pid ${local.pid}) and its jobs and sandboxes.\n`
          : `mags: stopped this host's local server (pid ${local.pid}). Its jobs and sandboxes keep running; the next mags command starts a server that adopts them (--stop-sandboxes stops them too). Cron jobs and schedule triggers do not fire until then.\n`,
      );
    });
}
