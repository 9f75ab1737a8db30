import type { Command } from 'commander';
import { formatBytes, printJson, printTable } from '../output.ts';

export function registerWorkspaceCommands(program: Command): void {
  const workspace = program.command('workspace').description('Named workspaces on this host.');
  workspace
    .command('list')
    .description('List workspaces with the size of what they hold.')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { createMagsContext } = await import('../../jobs/mags-context.ts');
      const workspaces = await createMagsContext().workspaces.list();
      if (flags.json) return printJson(workspaces);
      printTable(
        ['NAME', 'SIZE', 'IMAGE', 'CREATED', 'LAST RUN'],
        workspaces.map((info) => [
          info.name,
          formatBytes(info.sizeBytes),
          info.image,
          info.createdAt,
          info.lastRunAt ?? '-',
        ]),
      );
    });
  workspace
    .command('delete')
    .description('Delete a workspace and everything in it (refused while a run uses it).')
    .argument('<name>')
    .action(async (name: string) => {
      const { createMagsContext } = await import('../../jobs/mags-context.ts');
      await createMagsContext().workspaces.delete(name);
      process.stderr.write(`Deleted workspace ${name}\n`);
    });
}
