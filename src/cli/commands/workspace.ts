import type { Command } from 'commander';
import { remoteClient } from '../client/api-client.ts';
import { formatBytes, printJson, printTable } from '../output.ts';

export function registerWorkspaceCommands(program: Command): void {
  const workspace = program.command('workspace').description('Named workspaces on this host.');
  workspace
    .command('list')
    .description('List workspaces with the size of what they hold.')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const mags = await remoteClient(command);
      if (mags) {
        const workspaces = await mags.workspaces.list();
        if (flags.json) return printJson(workspaces);
        return printTable(
          ['NAME', 'SIZE', 'CREATED', 'LAST USED'],
          workspaces.map((info) => [
            info.name,
            info.sizeBytes === null ? '-' : formatBytes(info.sizeBytes),
            info.createdAt,
            info.lastUsedAt,
          ]),
        );
      }
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
    .description(
      'Delete a workspace here and its versions in object storage (refused while a run uses it).',
    )
    .argument('<name>')
    .option('--local-only', 'keep the stored versions')
    .action(async (name: string, flags: { localOnly?: boolean }, command: Command) => {
      const mags = await remoteClient(command);
      if (mags) {
        await mags.workspaces.delete(name);
        process.stderr.write(`Deleted workspace ${name} and its stored versions\n`);
        return;
      }
      const { createMagsContext } = await import('../../jobs/mags-context.ts');
      const context = createMagsContext();
      const local = await context.workspaces.get(name);
      const remote = flags.localOnly ? [] : await context.sync.versions(name);
      if (!local && remote.length === 0) await context.workspaces.require(name);
      if (local) await context.workspaces.delete(name);
      if (remote.length > 0) await context.sync.deleteRemote(name);
      process.stderr.write(
        `Deleted workspace ${name}${remote.length > 0 ? ` and its ${remote.length} stored versions (chunks go at the next mags workspace gc)` : ''}\n`,
      );
    });
  workspace
    .command('versions')
    .description('List the versions of a workspace in object storage.')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const mags = await remoteClient(command);
      if (mags) {
        const versions = await mags.workspaces.versions(name);
        if (flags.json) return printJson(versions);
        return printTable(
          ['VERSION', 'COMMITTED', 'MANIFEST'],
          versions.map((info) => [
            String(info.version),
            info.committedAt,
            formatBytes(info.sizeBytes),
          ]),
        );
      }
      const { createMagsContext } = await import('../../jobs/mags-context.ts');
      const context = createMagsContext();
      const versions = await context.sync.versions(name);
      const local = await context.workspaces.get(name);
      if (flags.json) return printJson(versions);
      printTable(
        ['VERSION', 'COMMITTED', 'MANIFEST', 'HERE'],
        versions.map((info) => [
          String(info.version),
          info.committedAt.toISOString(),
          formatBytes(info.sizeBytes),
          local?.remoteVersion === info.version ? '*' : '',
        ]),
      );
    });
  workspace
    .command('pull')
    .description(
      'Replace the local copy of a workspace with a stored version (NAME or NAME@N; default the latest).',
    )
    .argument('<name>')
    .action(async (value: string) => {
      const { createMagsContext } = await import('../../jobs/mags-context.ts');
      const { syncProgressReporter } = await import('../sync-progress.ts');
      const context = createMagsContext();
      const match = /^(.*)@(\d+)$/.exec(value);
      const name = match ? (match[1] as string) : value;
      const progress = syncProgressReporter(`restore ${name}`);
      const version = await context.sync.pull(name, {
        version: match ? Number(match[2]) : undefined,
        image: context.defaults.image,
        onProgress: progress.update,
      });
      progress.done();
      process.stderr.write(`Restored ${name} version ${version}\n`);
    });
  workspace
    .command('gc')
    .description(
      'Delete stored chunks that no version uses (chunks younger than the grace period are kept).',
    )
    .option('--grace-minutes <n>', 'keep unreferenced chunks younger than this', '60')
    .action(async (flags: { graceMinutes: string }) => {
      const { createMagsContext } = await import('../../jobs/mags-context.ts');
      const result = await createMagsContext().sync.garbageCollect({
        graceMs: Number(flags.graceMinutes) * 60_000,
      });
      process.stderr.write(
        `Deleted ${result.deletedChunks} unreferenced chunks; kept ${result.keptChunks}\n`,
      );
    });
}
