import type { Command } from 'commander';
import { remoteClient } from '../client/api-client.ts';
import { formatBytes, printJson, printTable } from '../output.ts';
import { parseDiskMiB } from '../parse-options.ts';

/** Use against the disk (`48.0 MiB 75%` of `64.0 MiB`), or `no limit` without a disk. */
function formatDisk(info: { sizeBytes: number | null; diskBytes: number | null }): string {
  if (info.diskBytes === null) return info.sizeBytes === null ? '-' : 'no limit';
  const percent =
    info.sizeBytes === null ? '' : ` (${Math.round((100 * info.sizeBytes) / info.diskBytes)} %)`;
  return `${formatBytes(info.diskBytes)}${percent}`;
}

/** Workspaces made before disks existed have none: say how to give them one. */
function printNoLimitHint(
  workspaces: Array<{ sizeBytes: number | null; diskBytes: number | null }>,
) {
  if (!workspaces.some((info) => info.diskBytes === null && info.sizeBytes !== null)) return;
  process.stderr.write(
    'hint: "no limit": made before workspace disks; to give one a disk, sync it (mags sync NAME), delete the local copy (mags workspace delete NAME --local-only) and pull it back (mags workspace pull NAME --disk SIZE)\n',
  );
}

/** The in-process workspace manager, as the local owner (plain names). */
async function inProcess() {
  const [{ createMagsContext }, { localOwner }] = await Promise.all([
    import('../../context/mags-context.ts'),
    import('../../workspaces/owner-workspace.ts'),
  ]);
  const context = createMagsContext();
  return { context, manager: context.workspaceManager, owner: localOwner };
}

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
        printTable(
          ['NAME', 'USED', 'DISK', 'CREATED', 'LAST USED', 'FORKED FROM'],
          workspaces.map((info) => [
            info.name,
            info.sizeBytes === null ? '-' : formatBytes(info.sizeBytes),
            formatDisk(info),
            info.createdAt,
            info.lastUsedAt,
            info.forkedFrom ?? '-',
          ]),
        );
        return printNoLimitHint(workspaces);
      }
      const { manager, owner } = await inProcess();
      const workspaces = await manager.list(owner);
      if (flags.json) return printJson(workspaces);
      printTable(
        ['NAME', 'USED', 'DISK', 'IMAGE', 'CREATED', 'LAST RUN', 'FORKED FROM'],
        workspaces.map((info) => [
          info.name,
          info.sizeBytes === null ? '-' : formatBytes(info.sizeBytes),
          formatDisk(info),
          info.image ?? '-',
          info.createdAt,
          info.lastRunAt ?? '-',
          info.forkedFrom ?? '-',
        ]),
      );
      printNoLimitHint(workspaces);
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
      const { manager, owner } = await inProcess();
      const deleted = await manager.delete(owner, name, { localOnly: flags.localOnly });
      const stored = deleted.storedVersions;
      process.stderr.write(
        `Deleted workspace ${name}${stored > 0 ? ` and its ${stored} stored versions (chunks go at the next mags workspace gc)` : ''}\n`,
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
      const { manager, owner } = await inProcess();
      const versions = await manager.versions(owner, name, { missingIsEmpty: true });
      const local = await manager.store.get(name);
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
    .option(
      '--disk <size>',
      "size of the workspace's disk: a new copy gets it (default 10g), an existing one grows to it",
    )
    .action(async (value: string, flags: { disk?: string }) => {
      const { syncProgressReporter } = await import('../sync-progress.ts');
      const { manager, owner, context } = await inProcess();
      const match = /^(.*)@(\d+)$/.exec(value);
      const name = match ? (match[1] as string) : value;
      const progress = syncProgressReporter(`restore ${name}`);
      const version = await manager.pull(owner, name, {
        version: match ? Number(match[2]) : undefined,
        image: context.defaults.image,
        diskMiB: flags.disk ? parseDiskMiB(flags.disk) : undefined,
        onProgress: progress.update,
      });
      progress.done();
      process.stderr.write(`Restored ${name} version ${version}\n`);
    });
  workspace
    .command('fork')
    .description(
      'Make a new workspace that starts as a copy of SOURCE (copy-on-write: instant, whatever its size; SOURCE must be idle).',
    )
    .argument('<source>')
    .argument('<name>', 'the new workspace')
    .option('--json', 'print the new workspace as JSON')
    .action(async (source: string, name: string, flags: { json?: boolean }, command: Command) => {
      const mags = await remoteClient(command);
      const forked = mags
        ? await mags.workspaces.fork(source, name)
        : await (async () => {
            const { manager, owner } = await inProcess();
            return manager.fork(owner, source, name);
          })();
      if (flags.json) return printJson(forked);
      process.stderr.write(
        `Forked ${source} as ${name}: later changes to either stay their own (run it with: mags run -w ${name} '...')\n`,
      );
    });
  workspace
    .command('gc')
    .description(
      'Delete stored chunks and packs that no version uses (younger than the grace period: kept).',
    )
    .option('--grace-minutes <n>', 'keep unreferenced chunks younger than this', '60')
    .action(async (flags: { graceMinutes: string }) => {
      const { createMagsContext } = await import('../../context/mags-context.ts');
      const result = await createMagsContext().sync.garbageCollect({
        graceMs: Number(flags.graceMinutes) * 60_000,
      });
      process.stderr.write(
        `Deleted ${result.deletedChunks} unreferenced chunks and ${result.deletedPacks} packs; kept ${result.keptChunks} chunks and ${result.keptPacks} packs\n`,
      );
    });
}
