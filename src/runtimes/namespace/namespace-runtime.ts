import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type {
  Runtime,
  RuntimeCapabilities,
  RuntimeCheck,
  Sandbox,
  SandboxSpec,
} from '../runtime.ts';
import { attachNamespaceSandbox, listNamespaceSandboxes } from './attach-namespace-sandbox.ts';
import { createShiftedIdMapping, type ShiftedIdMapping } from './id-mapping.ts';
import { prepareNamespaceSandbox, startNamespaceSandbox } from './namespace-sandbox.ts';
import {
  createOverlayLayerProvider,
  type OverlayLayerProvider,
  type OverlayLayerStores,
} from './overlay-layers.ts';
import { sweepLeftovers } from './sweep-leftovers.ts';

export { defaultIdCount, defaultUidBase } from './id-mapping.ts';

export interface NamespaceRuntimeOptions {
  /** The mags data directory; sandboxes keep their run state in `${home}/run/ID`. */
  home: string;
  /**
   * How sandbox ids map to host ids (root inside is an unprivileged host uid, never host root).
   * The stores it is given must write files with the same one: `namespaceRuntimeFactory` makes
   * both from `MAGS_UID_BASE` (`namespaceIdMapping`).
   */
  idMapping?: ShiftedIdMapping;
  /** Where images, workspaces and stored versions are: the layer provider's sources. */
  stores: OverlayLayerStores;
  launcherPath: string;
  agentPath: string;
  cgroupRoot?: string;
  /** How long the sandbox may take to come up before start fails. */
  startTimeoutMs?: number;
}

/** The options with every default filled in, as the sandbox code uses them. */
export interface ResolvedNamespaceOptions {
  home: string;
  uidBase: number;
  idCount: number;
  layers: OverlayLayerProvider;
  launcherPath: string;
  agentPath: string;
  cgroupRoot: string;
  startTimeoutMs: number;
}

const capabilities: RuntimeCapabilities = {
  network: true,
  tty: true,
  resourceLimits: true,
  setLimits: true,
  pause: true,
  prepare: true,
  // The launcher runs in its own session and the agent listens on run/ID/agent.sock.
  reattach: true,
  sweep: true,
  egressAllowList: true,
  // Through the agent: EXEC with the connect flag (docs/guest-protocol.md).
  ports: true,
  // The workspace is the upper layer of the overlay that is the sandbox's root.
  wholeFilesystemPersists: true,
};

/**
 * The embedded default runtime: Linux namespaces, an overlay root filesystem and cgroups,
 * set up by the small C launcher in `native/sandbox.c`. The factory does no I/O.
 */
export function createNamespaceRuntime(options: NamespaceRuntimeOptions): Runtime {
  const resolved = resolveNamespaceOptions(options, 10_000);
  return {
    specificationVersion: 'runtime-v2',
    name: 'namespace',
    capabilities,
    check: () => checkHost(resolved),
    start: (spec: SandboxSpec): Promise<Sandbox> => startNamespaceSandbox(resolved, spec),
    prepare: (prepareOptions) => prepareNamespaceSandbox(resolved, prepareOptions),
    sweep: () => sweepLeftovers(resolved.home, resolved.cgroupRoot),
    list: () => listNamespaceSandboxes(resolved.home),
    attach: (id) => attachNamespaceSandbox(resolved, id),
  };
}

/** The options with their defaults, for this runtime and the qemu runtime (same launcher). */
export function resolveNamespaceOptions(
  options: NamespaceRuntimeOptions,
  defaultStartTimeoutMs: number,
): ResolvedNamespaceOptions {
  const idMapping = options.idMapping ?? createShiftedIdMapping();
  return {
    home: options.home,
    uidBase: idMapping.uidBase,
    idCount: idMapping.idCount,
    layers: createOverlayLayerProvider({ stores: options.stores, idMapping }),
    launcherPath: options.launcherPath,
    agentPath: options.agentPath,
    cgroupRoot: options.cgroupRoot ?? '/sys/fs/cgroup',
    startTimeoutMs: options.startTimeoutMs ?? defaultStartTimeoutMs,
  };
}

async function checkHost(options: ResolvedNamespaceOptions): Promise<RuntimeCheck> {
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const [path, what] of [
    [options.launcherPath, 'sandbox launcher'],
    [options.agentPath, 'guest agent'],
  ] as const) {
    if (!existsSync(path)) {
      problems.push(`The ${what} is not built (${path} is missing): run npm run build`);
    }
  }
  if (process.getuid?.() !== 0) {
    problems.push(
      'The namespace runtime needs root on the host to map sandbox users to subordinate ids: run mags as root',
    );
  }
  const maxUserNamespaces = await readFile('/proc/sys/user/max_user_namespaces', 'utf8').catch(
    () => '0',
  );
  if (Number(maxUserNamespaces) === 0) {
    problems.push(
      'User namespaces are disabled: run sysctl -w user.max_user_namespaces=15000 (and check kernel.unprivileged_userns_clone)',
    );
  }
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\toverlay$/m.test(filesystems)) {
    problems.push('The kernel has no overlay filesystem loaded: run modprobe overlay');
  }
  if (
    !existsSync(`${options.cgroupRoot}/cgroup.controllers`) &&
    !existsSync(`${options.cgroupRoot}/memory`)
  ) {
    warnings.push(
      `No cgroup hierarchy at ${options.cgroupRoot}: resource limits cannot be applied`,
    );
  }
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  const cgroup2 = mounts.split('\n').find((line) => line.split(' ')[2] === 'cgroup2');
  if (cgroup2 && !cgroup2.includes('favordynmods')) {
    // Moving a process into a cgroup waits for an RCU grace period unless the (global)
    // cgroup_threadgroup_rwsem is kept in slow mode (Documentation/admin-guide/cgroup-v2.rst).
    warnings.push(
      `Each sandbox start waits ~20 ms for a cgroup migration: run mount -o remount,favordynmods ${cgroup2.split(' ')[1]}`,
    );
  }
  if (!['/usr/bin/slirp4netns', '/usr/local/bin/slirp4netns'].some((path) => existsSync(path))) {
    warnings.push(
      'slirp4netns is not installed: --net is unavailable (apt-get install slirp4netns)',
    );
  }
  // The launcher's egress keeper runs `nft` by name (native/egress.c); Debian puts it in sbin.
  if (!['/usr/sbin/nft', '/sbin/nft', '/usr/local/sbin/nft'].some((path) => existsSync(path))) {
    warnings.push(
      'nft is not installed: egress allow-lists (--allow-host, --allow-cidr) are unavailable (apt-get install nftables)',
    );
  }
  return { ok: problems.length === 0, problems, warnings };
}
