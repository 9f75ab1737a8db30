import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseSizeMiB } from '../../config/byte-sizes.ts';
import { MagsError, NotFoundError } from '../../errors/mags-error.ts';
import type { Mags, TreeProgress } from '../../sdk/mags.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { withExamples } from '../help-examples.ts';
import { treeProgressReporter } from '../tree-progress.ts';

/** `NAME:/path`: a sandbox or workspace name, a colon, an absolute path inside it. */
const remotePattern = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62}):(\/.*)$/;

/** Above a default workspace's whole disk (10 GiB): only a copy that cannot be real stops. */
const defaultMaxSize = '16g';

interface CpFlags {
  maxSize: string;
}

interface RemotePath {
  name: string;
  path: string;
}

export function registerCpCommand(program: Command): void {
  withExamples(
    program
      .command('cp')
      .description(
        'Copy a file or a directory tree into or out of a sandbox or workspace (NAME:/path on ' +
          'one side). NAME is a sandbox, or a workspace when no sandbox has that name (a sandbox ' +
          'of that name wins; a workspace with no sandbox running gets one for the copy). DEST ' +
          'is the copy itself, or, ending ' +
          'in "/" (or an existing local directory), the directory it goes into. Modes and ' +
          'symlinks are kept; links are copied as links, never followed.',
      )
      .argument('<src>', 'a local path, or NAME:/path')
      .argument('<dest>', 'NAME:/path, or a local path')
      .option(
        '--max-size <size>',
        'a copy out stops past this much tar (e.g. 50g): a sandbox cannot fill this disk',
        defaultMaxSize,
      )
      .action(async (source: string, destination: string, flags: CpFlags, command: Command) => {
        const maxBytes = parseSizeMiB(flags.maxSize, '--max-size', 1) * 1024 * 1024;
        await copyAction(source, destination, maxBytes, command);
      }),
    [
      'mags cp ./src dev:/workspace/src          # the tree becomes /workspace/src',
      'mags cp data.csv dev:/workspace/           # into /workspace, as data.csv',
      'mags cp dev:/workspace/dist ./dist         # and back out',
      'mags cp ./fixtures myproject:/workspace/fixtures   # a workspace: the next run sees it',
    ],
  );
}

async function copyAction(
  source: string,
  destination: string,
  maxBytes: number,
  command: Command,
): Promise<void> {
  const from = parseRemote(source);
  const to = parseRemote(destination);
  if ((from === undefined) === (to === undefined)) {
    throw new CommandUsageError('Exactly one side of mags cp is NAME:/path.', {
      hint: 'mags cp ./src dev:/workspace/src  or  mags cp dev:/workspace/out ./out',
    });
  }
  const progress = treeProgressReporter('copy');
  const startedAt = performance.now();
  let copied: TreeProgress;
  let where: string;
  try {
    if (to) {
      // Into a directory ("/" at the end): under the source's own name.
      const path = to.path.endsWith('/') ? `${to.path}${basename(resolve(source))}` : to.path;
      where = `${to.name}:${path}`;
      copied = await upload(command, source, { name: to.name, path }, progress.update);
    } else {
      const remote = from as RemotePath;
      const local = (await isLocalDirectory(destination))
        ? join(destination, basename(remote.path.replace(/\/+$/, '')))
        : destination;
      where = local;
      copied = await download(command, remote, local, { onProgress: progress.update, maxBytes });
    }
  } finally {
    progress.done();
  }
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  const { formatBytes } = await import('../output.ts');
  process.stderr.write(
    `mags: copied ${copied.files} ${copied.files === 1 ? 'entry' : 'entries'} (${formatBytes(copied.bytes)} of tar) to ${where} in ${seconds} s\n`,
  );
}

function parseRemote(argument: string): RemotePath | undefined {
  const match = remotePattern.exec(argument);
  return match ? { name: match[1] as string, path: match[2] as string } : undefined;
}

async function isLocalDirectory(path: string): Promise<boolean> {
  if (path.endsWith('/')) return true;
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

type Target = { kind: 'sandbox' | 'workspace'; mags: Mags } | { kind: 'embedded' };

/**
 * Where the copy goes: through the server the user chose, or this host's running local server,
 * to the sandbox NAME, else the workspace NAME. With neither, in this process on the workspace
 * (the code path a server's workspace route takes), unless NAME is a sandbox: long-lived
 * sandboxes live in a server, so the local one is started for it.
 */
async function resolveTarget(command: Command, name: string): Promise<Target> {
  const { runClient, apiClient } = await import('../client/api-client.ts');
  const client = await runClient(command);
  if (client)
    return { kind: (await isSandbox(client, name)) ? 'sandbox' : 'workspace', mags: client };
  if (await hasSandboxRecord(name)) return { kind: 'sandbox', mags: await apiClient(command) };
  return { kind: 'embedded' };
}

async function isSandbox(mags: Mags, name: string): Promise<boolean> {
  try {
    await mags.sandboxes.get(name);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

async function hasSandboxRecord(name: string): Promise<boolean> {
  const [{ resolveMagsHome }, { createSqliteStateRepository }, { localOwner }] = await Promise.all([
    import('../../config/mags-home.ts'),
    import('../../state/sqlite/sqlite-state-repository.ts'),
    import('../../workspaces/owner-workspace.ts'),
  ]);
  const repository = createSqliteStateRepository(join(resolveMagsHome(), 'state.db'));
  try {
    return (await repository.getSandbox(localOwner, name)) !== undefined;
  } finally {
    await repository.close();
  }
}

async function upload(
  command: Command,
  source: string,
  to: RemotePath,
  onProgress: (progress: TreeProgress) => void,
): Promise<TreeProgress> {
  const target = await resolveTarget(command, to.name);
  if (target.kind === 'sandbox') {
    return target.mags.sandboxes.files.uploadTree(to.name, source, to.path, { onProgress });
  }
  if (target.kind === 'workspace') {
    return target.mags.workspaces.uploadTree(to.name, source, to.path, { onProgress });
  }
  const [{ splitArchivePath }, { packLocalTree }, { extractArchiveInWorkspace }, context] =
    await Promise.all([
      import('../../api/archive-path.ts'),
      import('../../sdk/local-tree.ts'),
      import('../../sandboxes/workspace-archive.ts'),
      embeddedContext(to.name),
    ]);
  const { parent, name } = splitArchivePath(to.path);
  const { stream, progress } = await packLocalTree(source, name, onProgress);
  const interrupt = onInterrupt();
  try {
    await extractArchiveInWorkspace(
      context,
      { workspace: to.name, displayName: to.name },
      {
        path: parent,
        data: toBuffers(stream)[Symbol.asyncIterator](),
        // The host's own copy: no limit on the host's use of itself, as with the local server.
        maxBytes: Number.POSITIVE_INFINITY,
        signal: interrupt.signal,
      },
    );
  } finally {
    interrupt.dispose();
  }
  return progress;
}

async function download(
  command: Command,
  from: RemotePath,
  local: string,
  options: { onProgress: (progress: TreeProgress) => void; maxBytes: number },
): Promise<TreeProgress> {
  const target = await resolveTarget(command, from.name);
  if (target.kind === 'sandbox') {
    return target.mags.sandboxes.files.downloadTree(from.name, from.path, local, options);
  }
  if (target.kind === 'workspace') {
    return target.mags.workspaces.downloadTree(from.name, from.path, local, options);
  }
  const [{ extractLocalTree }, { packArchiveFromWorkspace }, context] = await Promise.all([
    import('../../sdk/local-tree.ts'),
    import('../../sandboxes/workspace-archive.ts'),
    embeddedContext(from.name),
  ]);
  const { stream, released } = await packArchiveFromWorkspace(
    context,
    { workspace: from.name, displayName: from.name },
    from.path,
  );
  const interrupt = () => stream.destroy(interrupted());
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    return await extractLocalTree(stream, local, options);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    stream.destroy(); // a refused archive is not read to its end: tar and the sandbox go now
    await released;
  }
}

async function embeddedContext(workspace: string) {
  const [{ createMagsContext }, { validateWorkspaceName }] = await Promise.all([
    import('../../context/mags-context.ts'),
    import('../../workspaces/workspace-name.ts'),
  ]);
  validateWorkspaceName(workspace);
  return createMagsContext();
}

/**
 * The in-process copy's sandbox would outlive a process killed by Ctrl-C (and hold the
 * workspace): an interrupt fails the copy instead, even one stalled on a full pipe, which removes
 * what it staged and stops the sandbox on the way out.
 */
function onInterrupt(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const interrupt = () => controller.abort(interrupted());
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    },
  };
}

function interrupted(): MagsError {
  return new MagsError('The copy was interrupted; nothing was left half-copied.', {
    code: 'interrupted',
  });
}

async function* toBuffers(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of stream) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
}
