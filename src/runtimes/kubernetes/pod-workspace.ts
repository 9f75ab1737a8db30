import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IdMapping } from '../../config/id-mapping.ts';
import { ConflictError, InvalidInputError, MagsError } from '../../errors/mags-error.ts';
import type { GuestClient } from '../../guest/guest-client.ts';
import { acquireLock, type HeldLock } from '../../workspaces/workspace-lock.ts';
import type { SandboxSpec } from '../runtime.ts';
import type { HostStores } from '../runtime-factory.ts';
import { workspaceMountPath } from './kubernetes-pod-spec.ts';

/**
 * A workspace as a pod sees it: the tree of its `/workspace` on this host, copied into the pod's
 * emptyDir before the first command and, for a writable one, copied back when the sandbox stops.
 * Only `/workspace` persists on this runtime, not the whole filesystem as on the overlay runtimes
 * (capability `wholeFilesystemPersists`).
 */
export interface PodWorkspace {
  /** The host directory holding the workspace's `/workspace` (may not exist yet: empty). */
  directory: string;
  writable: boolean;
  /** Ends the hold on the workspace (its lock). */
  release(): Promise<void>;
}

/** The `/workspace` directory inside a layer (an upper directory or a snapshot). */
const inLayer = (layer: string) => join(layer, workspaceMountPath.slice(1));

/**
 * Opens the spec's workspace on this host as the overlay runtimes do (a writable one locked for
 * one writer, a read-only one shared, a stored version restored as a snapshot). A fork whose
 * frozen layers hold `/workspace` files is refused: merging layers without an overlay is not
 * done here.
 */
export async function openPodWorkspace(
  stores: HostStores,
  spec: Pick<SandboxSpec, 'workspace' | 'image' | 'limits'>,
  /** Attaching to a running pod: the workspace exists (no new one is made). */
  options: { attach?: boolean } = {},
): Promise<PodWorkspace | undefined> {
  const workspace = spec.workspace;
  if (!workspace) return undefined;
  if (workspace.version !== undefined) {
    const snapshot = await stores.sync.snapshot(workspace.name, workspace.version);
    return { directory: inLayer(snapshot), writable: false, release: async () => {} };
  }
  const writable = workspace.access === 'writable';
  const paths =
    writable && !options.attach
      ? await stores.workspaces.ensure(workspace.name, spec.image.name, spec.limits.diskMiB)
      : await stores.workspaces.open(workspace.name);
  if (paths.lowerDirs.some((layer) => existsSync(inLayer(layer)))) {
    throw new InvalidInputError(
      `The kubernetes runtime cannot run on workspace ${workspace.name}: it is a fork whose earlier layers hold /workspace files.`,
      {
        code: 'workspace_unsupported',
        workspace: workspace.name,
        hint: 'Run it on the namespace or qemu runtime, or on a workspace that is not a fork.',
      },
    );
  }
  const busy = () =>
    new ConflictError('The workspace is in use by another run.', {
      workspace: workspace.name,
      hint: 'Wait for the other run to finish, or run read-only on top of it with --base NAME.',
    });
  const locks: HeldLock[] = [
    await acquireLock(paths.lockPath, writable ? 'exclusive' : 'shared', busy),
  ];
  return {
    directory: inLayer(paths.upperDir),
    writable,
    release: async () => {
      await Promise.all(locks.splice(0).map((lock) => lock.release()));
    },
  };
}

/**
 * Copies the workspace's tree into the pod's `/workspace`: the host's GNU tar packs it (owners
 * mapped from host ids to the sandbox's, which the pod's user namespace knows; whiteouts, the
 * overlay's character devices, left out), the pod's tar unpacks it as the sandbox's root.
 */
export async function restoreIntoPod(
  client: GuestClient,
  workspace: PodWorkspace,
  idMapping: IdMapping,
  podPath: string,
): Promise<void> {
  if (!existsSync(workspace.directory)) return;
  const maps = await idMaps(workspace.directory, idMapping);
  try {
    const pack = spawn(
      'sh',
      [
        '-c',
        'cd "$1" && find . -mindepth 1 ! -type c -print0 | tar --null --no-recursion -T - --numeric-owner --owner-map="$2" --group-map="$3" -cf -',
        'sh',
        workspace.directory,
        maps.owners,
        maps.groups,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const packErrors = collect(pack.stderr);
    const unpack = client.exec({
      argv: ['tar', '-C', podPath, '--numeric-owner', '-xpf', '-'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      cwd: '/',
      stdin: true,
    });
    const unpackErrors = collect(unpack.stderr);
    unpack.stdout.resume();
    for await (const chunk of pack.stdout) {
      unpack.writeStdin(chunk as Buffer);
      await unpack.stdinDrained?.();
    }
    unpack.closeStdin();
    const [packed, unpacked] = await Promise.all([
      new Promise<number | null>((resolve) => pack.on('close', resolve)),
      unpack.exited,
    ]);
    if (packed !== 0 || unpacked.exitCode !== 0) {
      throw new MagsError(
        `The workspace could not be copied into the pod: ${(await packErrors) || (await unpackErrors) || 'tar failed'}`,
        {
          code: 'workspace_restore_failed',
          // Which side failed says what to fix: this host's tar or disk, or the pod's image.
          hint:
            packed !== 0
              ? "This host's tar could not read the workspace: check the host's GNU tar and disk (its error above)."
              : 'The pod could not unpack it: the pod image needs GNU tar, as the default base image has, and its /workspace room (--disk).',
        },
      );
    }
  } finally {
    await rm(maps.directory, { recursive: true, force: true });
  }
}

/**
 * Copies the pod's `/workspace` back over the workspace's tree: unpacked by the host's tar as
 * the sandbox's root host id (`setpriv`), never as host root, since the archive is the sandbox's
 * to forge; then swapped in whole. Files all belong to the sandbox's root afterwards (an
 * unprivileged tar cannot give them other owners).
 */
export async function syncBackFromPod(
  client: GuestClient,
  workspace: PodWorkspace,
  idMapping: IdMapping,
  podPath: string,
): Promise<void> {
  const parent = join(workspace.directory, '..');
  const root = idMapping.toHost(0);
  const staging = join(parent, `.mags-pod-sync-${process.pid}-${Date.now()}`);
  await rm(staging, { recursive: true, force: true });
  const makeStaging = spawn('setpriv', [
    `--reuid=${root}`,
    `--regid=${root}`,
    '--clear-groups',
    'mkdir',
    staging,
  ]);
  if ((await new Promise((resolve) => makeStaging.on('close', resolve))) !== 0) {
    throw new MagsError(`Cannot make ${staging} as the sandbox's root (uid ${root}).`, {
      code: 'workspace_sync_failed',
      hint: "Copying a workspace back runs setpriv to the sandbox's ids, which needs a host running as root with setpriv (util-linux).",
    });
  }
  try {
    const pack = client.exec({
      argv: ['tar', '-C', podPath, '-cf', '-', '.'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      cwd: '/',
    });
    const packErrors = collect(pack.stderr);
    const unpack = spawn(
      'setpriv',
      [
        `--reuid=${root}`,
        `--regid=${root}`,
        '--clear-groups',
        'tar',
        '-C',
        staging,
        '--no-same-owner',
        '-xf',
        '-',
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    const unpackErrors = collect(unpack.stderr);
    // A tar that fails stops reading: its status and message say why, not the broken pipe.
    unpack.stdin.on('error', () => {});
    pack.stdout.pipe(unpack.stdin);
    const [packed, unpacked] = await Promise.all([
      pack.exited,
      new Promise<number | null>((resolve) => unpack.on('close', resolve)),
    ]);
    if (packed.exitCode !== 0 || unpacked !== 0) {
      throw new MagsError(
        `The pod's /workspace could not be copied back: ${(await packErrors) || (await unpackErrors) || 'tar failed'}`,
        {
          code: 'workspace_sync_failed',
          hint: 'The workspace on this host is as it was before the run.',
        },
      );
    }
    const old = `${staging}.old`;
    if (existsSync(workspace.directory)) await rename(workspace.directory, old);
    await rename(staging, workspace.directory);
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** GNU tar owner and group maps from every host id in the tree to the sandbox's (nobody if none). */
async function idMaps(
  directory: string,
  idMapping: IdMapping,
): Promise<{ directory: string; owners: string; groups: string }> {
  const owners = new Set<number>();
  const groups = new Set<number>();
  const top = await lstat(directory);
  owners.add(top.uid);
  groups.add(top.gid);
  for (const name of await readdir(directory, { recursive: true })) {
    const stats = await lstat(join(directory, name));
    owners.add(stats.uid);
    groups.add(stats.gid);
  }
  // An id outside the sandbox's range (host root's, say) is nobody inside.
  const line = (id: number) => {
    const inside = idMapping.toSandbox(id);
    const known = idMapping.toHost(inside) === id && inside >= 0 && inside < 65_536;
    return `+${id} +${known ? inside : 65_534}\n`;
  };
  const mapDirectory = await mkdtemp(join(tmpdir(), 'mags-pod-ids-'));
  const ownersPath = join(mapDirectory, 'owners');
  const groupsPath = join(mapDirectory, 'groups');
  await writeFile(ownersPath, [...owners].map(line).join(''));
  await writeFile(groupsPath, [...groups].map(line).join(''));
  return { directory: mapDirectory, owners: ownersPath, groups: groupsPath };
}

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text.trim().slice(-2000);
}
