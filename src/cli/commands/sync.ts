import type { Command } from 'commander';
import { describeSync } from '../../workspaces/sync/describe-sync.ts';
import { remoteClient } from '../client/api-client.ts';
import { printJson } from '../output.ts';
import { syncProgressReporter } from '../sync-progress.ts';

export function registerSyncCommand(program: Command): void {
  program
    .command('sync')
    .description('Sync a workspace to object storage now, as a new version (runs using it go on).')
    .argument('<name>')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const mags = await remoteClient(command);
      if (mags) {
        const result = await mags.workspaces.sync(name);
        if (flags.json) return printJson(result);
        process.stderr.write(`${describeSync(name, { ...result, uploadedChunks: 0 })}\n`);
        return;
      }
      const [{ createMagsContext }, { localOwner }] = await Promise.all([
        import('../../context/mags-context.ts'),
        import('../../workspaces/owner-workspace.ts'),
      ]);
      const progress = syncProgressReporter(`sync ${name}`);
      const result = await createMagsContext().workspaceManager.push(
        localOwner,
        name,
        progress.update,
      );
      progress.done();
      if (flags.json) printJson(result);
      else process.stderr.write(`${describeSync(name, result)}\n`);
    });
}
