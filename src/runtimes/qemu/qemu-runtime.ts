import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { DependencyMissingError } from '../../errors/mags-error.ts';
import { connectGuestRetrying } from '../../guest/connect-guest.ts';
import {
  attachLaunchedSandbox,
  listNamespaceSandboxes,
} from '../namespace/attach-namespace-sandbox.ts';
import {
  type NamespaceRuntimeOptions,
  resolveNamespaceOptions,
} from '../namespace/namespace-runtime.ts';
import {
  prepareNamespaceSandbox,
  type SandboxLaunch,
  scratchLayerMiB,
} from '../namespace/namespace-sandbox.ts';
import { agentSocketName } from '../namespace/run-record.ts';
import { sweepLeftovers } from '../namespace/sweep-leftovers.ts';
import type { Runtime, RuntimeCapabilities, Sandbox, SandboxSpec } from '../runtime.ts';
import { chooseAccelerator } from './accelerator.ts';
import { checkQemuHost, qemuPathFor } from './check-qemu-host.ts';
import { findGuestKernel } from './guest-kernel.ts';
import { hostTscKhz } from './host-tsc.ts';
import {
  guestMemoryMiB,
  jailAssetsDirectory,
  monitorOverheadMiB,
  qemuCommandLine,
} from './qemu-command-line.ts';
import { qemuSandboxHandle } from './qemu-sandbox-handle.ts';

/** The namespace runtime's options (the same launcher and stores), and the guest's own. */
export interface QemuRuntimeOptions extends NamespaceRuntimeOptions {
  /** The guest's PID 1 (`native/vm-init.c`), copied into the initramfs. */
  initPath: string;
  /** Default: `qemu-system-x86_64` on the PATH. */
  qemuPath?: string;
  environment?: NodeJS.ProcessEnv;
}

const capabilities: RuntimeCapabilities = {
  network: true,
  tty: true,
  resourceLimits: true,
  // A VM's memory and vCPUs are fixed when it boots.
  setLimits: false,
  // The host's cgroup freezer stops QEMU, and the guest with it.
  pause: true,
  // A pooled VM would have to boot before its root filesystem exists: not yet.
  prepare: false,
  // QEMU listens for the agent's stream in the run directory, and the agent waits for each host.
  reattach: true,
  sweep: true,
  egressAllowList: true,
  // Through the agent over virtio-serial, like every other request.
  ports: true,
  // The workspace is the upper layer of the overlay that is the sandbox's root.
  wholeFilesystemPersists: true,
};

/**
 * The `qemu` runtime: each sandbox is a microVM (`qemu-system-x86_64 -M microvm`) with its own
 * kernel, started by the namespace runtime's launcher in `--vm` mode, so QEMU itself runs
 * unprivileged (the sandbox's subordinate root), in its own namespaces and cgroup, with seccomp,
 * and sees only /usr, the guest kernel and the workspace's overlay. The overlay is mounted on the
 * host exactly as for `namespace` and exported to the guest over virtio-9p, so workspaces,
 * versions and forks are the same. The factory does no I/O.
 */
export function createQemuRuntime(options: QemuRuntimeOptions): Runtime {
  const environment = options.environment ?? process.env;
  // A cold boot under TCG takes seconds, more on a loaded host.
  const resolved = resolveNamespaceOptions(options, 120_000);
  // Looked up at each use: the factory does no I/O.
  const findQemu = () => options.qemuPath ?? qemuPathFor(environment);
  const check = () => {
    const qemuPath = findQemu();
    return checkQemuHost({
      home: options.home,
      environment,
      agentPath: options.agentPath,
      initPath: options.initPath,
      ...(qemuPath ? { qemuPath } : {}),
    });
  };

  const launchFor = async (spec: SandboxSpec): Promise<SandboxLaunch> => {
    const qemuPath = findQemu() ?? '/usr/bin/qemu-system-x86_64';
    const kernel = await findGuestKernel({
      home: options.home,
      initPath: options.initPath,
      agentPath: options.agentPath,
    });
    if (!kernel || !existsSync(qemuPath)) {
      const { problems } = await check();
      // The check reads again: what was missing a moment ago may be there now, or be a file the
      // check accepts (a kernel record without its initramfs inputs, say).
      if (problems.length === 0) {
        problems.push(
          kernel ? `${qemuPath} does not exist` : 'the guest kernel could not be found or rebuilt',
        );
      }
      throw new DependencyMissingError(
        `The qemu runtime cannot start a VM on this host: ${problems.join('; ')}`,
        { hint: 'Run: mags doctor   (it says what to install or build)' },
      );
    }
    const { accelerator } = await chooseAccelerator({
      home: options.home,
      kernel,
      environment,
      qemuPath,
    });
    const tscKhz = accelerator === 'tcg' ? await hostTscKhz() : undefined;
    // The launcher shows the monitor one directory of the host's, read-only: the one holding the
    // kernel and the initramfs.
    const assets = dirname(dirname(kernel.vmlinuxPath));
    const inJail = (path: string) => `${jailAssetsDirectory}/${relative(assets, path)}`;
    return {
      runtime: 'qemu',
      programArguments: (runDirectory) => [
        '--vm',
        assets,
        // The agent's socket: the launcher listens, QEMU serves it (qemu-command-line.ts).
        '--listen',
        join(runDirectory, agentSocketName),
        ...(accelerator === 'kvm' ? ['--vm-device', '/dev/kvm'] : []),
        '--',
        ...qemuCommandLine({
          qemuPath,
          accelerator,
          vmlinuxPath: inJail(kernel.vmlinuxPath),
          initramfsPath: inJail(kernel.initramfsPath),
          limits: spec.limits,
          network: spec.network,
          hostname: spec.hostname ?? 'mags',
          ...(tscKhz ? { tscKhz } : {}),
          name: spec.id,
        }),
      ],
      hostLimits: (limits) => ({
        ...limits,
        // A throw-away layer is a tmpfs in the launcher's mount namespace, charged to QEMU's
        // cgroup: without room for it a large write gets QEMU OOM-killed instead of ENOSPC.
        memoryMiB:
          guestMemoryMiB(limits) +
          monitorOverheadMiB +
          (hasWritableWorkspace(spec) ? 0 : scratchLayerMiB(limits).mebibytes),
        // QEMU's threads (vCPUs, I/O workers), not the guest's processes: the guest's own
        // cgroup holds those to pidsMax.
        pidsMax: 512,
      }),
      agentSocket: (runDirectory) => join(runDirectory, agentSocketName),
      startHint:
        'The guest did not answer: its console is above. Try MAGS_QEMU_ACCEL=tcg (a KVM that ' +
        'does not boot it), or rebuild the guest kernel: mags image build --runtime qemu --force',
      handle: qemuSandboxHandle,
    };
  };

  return {
    specificationVersion: 'runtime-v2',
    name: 'qemu',
    capabilities,
    check,
    async start(spec: SandboxSpec): Promise<Sandbox> {
      const launch = await launchFor(spec);
      const layers = await resolved.layers.materialise(spec);
      const prepared = await prepareNamespaceSandbox(resolved, spec, layers, launch);
      return prepared.attach(spec);
    },
    // One sweep for both runtimes' leftovers: they share the run directory and cgroup names.
    sweep: () => sweepLeftovers(resolved.home, resolved.cgroupRoot),
    list: () => listNamespaceSandboxes(resolved.home, 'qemu'),
    attach: (id) =>
      attachLaunchedSandbox(resolved, id, {
        runtime: 'qemu',
        // A host that comes right after another left may hear no HELLO: short tries, again.
        connect: (timeoutMs) =>
          connectGuestRetrying(join(resolved.home, 'run', id, agentSocketName), {
            timeoutMs,
            helloTryMs: 2000,
          }),
        handle: qemuSandboxHandle,
      }),
  };
}

/** As the layer provider decides (overlay-layers.ts): otherwise the launcher makes a scratch layer. */
function hasWritableWorkspace(spec: SandboxSpec): boolean {
  return spec.workspace?.access === 'writable' && spec.workspace.version === undefined;
}
