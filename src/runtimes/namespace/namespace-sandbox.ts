import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CapabilityUnsupportedError, ConflictError, MagsError } from '../../errors/mags-error.ts';
import { GuestClient } from '../../guest/guest-client.ts';
import type {
  AttachSpec,
  PreparedSandbox,
  ResourceLimits,
  Sandbox,
  SandboxExit,
  SandboxSpec,
} from '../runtime.ts';
import { assertTraversable } from './check-traversable.ts';
import type { ResolvedNamespaceOptions } from './namespace-runtime.ts';
import type { OverlayLayers } from './overlay-layers.ts';
import { createSandboxCgroup, type SandboxCgroup } from './sandbox-cgroup.ts';
import { writeRunOwner } from './sweep-leftovers.ts';

/** Exit codes reserved by `mags-sandbox` for its own failures (see native/sandbox.c). */
const launcherBusy = 75;
const launcherSetupFailed = 71;
const launcherUsage = 64;
const stderrTailBytes = 16 * 1024;

export async function startNamespaceSandbox(
  options: ResolvedNamespaceOptions,
  spec: SandboxSpec,
): Promise<Sandbox> {
  // Materialised before the sandbox's mount namespace exists, so a workspace disk mounted for it
  // now is there without a shared mount (a pooled sandbox relies on `prepareMounts` instead).
  const layers = await options.layers.materialise(spec);
  const prepared = await prepareNamespaceSandbox(options, spec, layers);
  return prepared.attach(spec);
}

/**
 * Starts the launcher up to the point where it needs layers: run directory, cgroup, process and
 * namespaces exist, and it waits for the attach message (`--attach-fd`, native/sandbox.c). A
 * plain start is a prepare followed at once by an attach, so both paths are the same code.
 */
export async function prepareNamespaceSandbox(
  options: ResolvedNamespaceOptions,
  { id, limits }: { id: string; limits: ResourceLimits },
  materialised?: OverlayLayers,
): Promise<PreparedSandbox> {
  // Layers that come later (a pooled sandbox's) need the host readied before the namespace exists.
  if (!materialised) await options.layers.prepareHost();
  const runDirectory = join(options.home, 'run', id);
  const rootMount = join(runDirectory, 'root');
  // 0711: sandbox root (an unprivileged host uid) must traverse it to reach its mountpoint.
  await mkdir(rootMount, { recursive: true, mode: 0o711 });
  await chmod(runDirectory, 0o711);
  await chmod(join(options.home, 'run'), 0o711);
  await writeRunOwner(runDirectory);
  // A throw-away sandbox still needs a writable layer: a tmpfs the launcher mounts here, in the
  // sandbox's own mount namespace, sized by `limits.diskMiB` (it dies with the sandbox).
  const scratchDirectory = join(runDirectory, 'scratch');

  let setup: Awaited<ReturnType<typeof createSandboxCgroup>>;
  try {
    await mkdir(scratchDirectory, { mode: 0o711 });
    await assertTraversable([rootMount, scratchDirectory], options.uidBase);
    setup = await createSandboxCgroup(id, limits, options.cgroupRoot);
  } catch (error) {
    // Nothing may be left behind by a sandbox that never started.
    await rm(runDirectory, { recursive: true, force: true });
    throw error;
  }
  const { cgroup } = setup;
  let warnings = setup.warnings;
  let appliedLimits = limits;
  // Limits are set at prepare time; an attach or a reuse that asks for others rewrites them.
  const setLimits = async (wanted: ResourceLimits): Promise<string[]> => {
    if (!cgroup || sameLimits(wanted, appliedLimits)) return warnings;
    warnings = await cgroup.applyLimits(wanted);
    appliedLimits = wanted;
    return warnings;
  };
  const args = [
    '--root',
    rootMount,
    '--uid-base',
    String(options.uidBase),
    '--id-count',
    String(options.idCount),
    ...(cgroup?.joinPaths ?? []).flatMap((path) => ['--cgroup', path]),
    '--fd',
    '3',
    '--attach-fd',
    '4',
    '--',
    options.agentPath,
  ];
  // fd 3 and 4 are 'pipe's, which libuv creates as unix socketpairs: the agent's byte stream and
  // the attach channel.
  const launcher = spawn(options.launcherPath, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stderrTail = '';
  launcher.stderr?.setEncoding('utf8');
  launcher.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-stderrTailBytes);
  });
  let exited = false;
  const launcherExit = new Promise<number>((resolve) => {
    launcher.on('exit', (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
    launcher.on('error', () => resolve(launcherSetupFailed));
  }).finally(() => {
    exited = true;
  });
  const attachChannel = launcher.stdio[4] as Duplex;
  attachChannel.on('error', () => {}); // a launcher that died is reported through its exit code

  let cleaning: Promise<SandboxExit> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      attachChannel.destroy();
      await killAndWait(launcher, launcherExit, cgroup);
      const exit: SandboxExit = {
        oomKills: (await cgroup?.oomKillCount()) ?? 0,
        peakMemoryBytes: await cgroup?.peakMemoryBytes(),
      };
      await cgroup?.remove();
      await rm(runDirectory, { recursive: true, force: true });
      return exit;
    })();
    return cleaning;
  };

  let attached = false;
  const attach = async (spec: AttachSpec): Promise<Sandbox> => {
    if (attached) throw new MagsError(`Sandbox ${id} is already attached.`, { code: 'internal' });
    attached = true;
    let client: GuestClient;
    let baseline: number | undefined;
    try {
      if (exited) throw launcherError(await launcherExit, stderrTail, id);
      await setLimits(spec.limits);
      // The layer provider turns the spec's references into directories and locks.
      const layers = materialised ?? (await options.layers.materialise(spec));
      attachChannel.end(attachMessage(spec, layers, layers.writable ?? { scratchDirectory }));
      const socket = launcher.stdio[3] as Duplex;
      const failed = launcherExit.then((code) => {
        throw launcherError(code, stderrTail, id);
      });
      client = await Promise.race([
        GuestClient.connect(socket, { helloTimeoutMs: options.startTimeoutMs }),
        failed,
      ]).catch(async (error: unknown) => {
        // The agent's stream closes as the launcher exits (a busy lock, say), often before its
        // exit is seen here: its exit code, when it comes at once, says why.
        const code = await Promise.race([launcherExit, sleep(1000, undefined, { ref: false })]);
        throw code === undefined ? error : launcherError(code, stderrTail, id);
      });
      failed.catch(() => {});
      // The launcher, the agent (and slirp4netns with a network): what an idle sandbox counts.
      baseline = await cgroup?.processCount();
    } catch (error) {
      await cleanup();
      throw error;
    }

    // The agent's stream closes as soon as the agent dies; the launcher exits only once the
    // kernel has torn the sandbox down (which can take a while: overlayfs syncs on unmount).
    let agentGone = false;
    void client.closed.then(() => {
      agentGone = true;
    });
    let paused = false;
    const awake = async () => {
      if (!paused) return;
      paused = false;
      await cgroup?.thaw();
    };
    let stopping: Promise<SandboxExit> | undefined;
    return {
      id,
      workspace: spec.workspace,
      labels: spec.labels ?? {},
      get warnings() {
        return warnings;
      },
      exec: (request) => {
        // A frozen agent reads the request once thawed: the socket holds it until then.
        if (paused) awake().catch(() => {});
        return client.exec(request);
      },
      writeFile: async (path, data, writeOptions) => {
        await awake();
        return client.writeFile(path, data, writeOptions);
      },
      readFileStream: async (path, readOptions) => {
        await awake();
        return client.readFileStream(path, readOptions);
      },
      readFile: async (path, readOptions) => {
        await awake();
        return client.readFile(path, readOptions);
      },
      async usage() {
        const [processes, oomKills, peakMemoryBytes, memoryBytes] = await Promise.all([
          cgroup?.processCount(),
          cgroup?.oomKillCount(),
          cgroup?.peakMemoryBytes(),
          cgroup?.memoryBytes(),
        ]);
        return {
          oomKills: oomKills ?? 0,
          peakMemoryBytes,
          memoryBytes,
          processes:
            processes === undefined || baseline === undefined
              ? undefined
              : Math.max(0, processes - baseline),
        };
      },
      isRunning: () => !exited && !agentGone && stopping === undefined,
      setLimits,
      async pause() {
        if (paused) return;
        if (!(await cgroup?.freeze())) {
          throw new CapabilityUnsupportedError('namespace', 'pause', {
            reason: 'this host has no cgroup freezer',
          });
        }
        paused = true;
        await cgroup?.reclaim();
      },
      resume: awake,
      stop() {
        stopping ??= (async () => {
          // A frozen sandbox cannot act on the agent's EOF; thaw it so it can end itself.
          await awake();
          // Closing the agent's stream ends the agent (PID 1), and with it every process inside.
          client.close();
          return cleanup();
        })();
        return stopping;
      },
    };
  };

  return {
    id,
    isAlive: () => !exited && !attached && cleaning === undefined,
    attach,
    discard: async () => {
      attached = true;
      await cleanup();
    },
  };
}

/**
 * The size of a throw-away sandbox's scratch layer: its disk, but at most three quarters of its
 * memory. The layer is a tmpfs, whose pages count against the sandbox's memory cgroup (and cannot
 * be reclaimed without swap): a layer as large as the memory limit or larger would end a large
 * write in an OOM kill instead of ENOSPC. The last quarter is left to the processes.
 */
export function scratchLayerMiB(limits: Pick<ResourceLimits, 'memoryMiB' | 'diskMiB'>): {
  mebibytes: number;
  bound: 'disk' | 'memory';
} {
  const memoryBoundMiB = Math.max(1, Math.floor((limits.memoryMiB * 3) / 4));
  const diskMiB = limits.diskMiB ?? Number.POSITIVE_INFINITY;
  return diskMiB <= memoryBoundMiB
    ? { mebibytes: diskMiB, bound: 'disk' }
    : { mebibytes: memoryBoundMiB, bound: 'memory' };
}

/** The attach message read by `read_attach` in native/sandbox.c. */
function attachMessage(
  spec: AttachSpec,
  layers: OverlayLayers,
  writable: { upperDir: string; workDir: string } | { scratchDirectory: string },
): Buffer {
  const scratchBytes = scratchLayerMiB(spec.limits).mebibytes * 1024 * 1024;
  const pairs = [
    ...layers.lowerDirs.map((directory) => ['--lower', directory]),
    ...('scratchDirectory' in writable
      ? [
          ['--scratch', writable.scratchDirectory],
          ['--scratch-bytes', String(scratchBytes)],
        ]
      : [
          ['--upper', writable.upperDir],
          ['--work', writable.workDir],
        ]),
    ['--hostname', spec.hostname ?? 'mags'],
    ...layers.locks.exclusive.map((path) => ['--lock-exclusive', path]),
    ...layers.locks.shared.map((path) => ['--lock-shared', path]),
    ...(spec.network.egress === 'all' ? [['--net', '1']] : []),
  ];
  const body = Buffer.from(
    pairs
      .flat()
      .map((text) => `${text}\0`)
      .join(''),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  return Buffer.concat([length, body]);
}

function sameLimits(a: ResourceLimits, b: ResourceLimits): boolean {
  return a.memoryMiB === b.memoryMiB && a.cpus === b.cpus && a.pidsMax === b.pidsMax;
}

async function killAndWait(
  launcher: ChildProcess,
  exited: Promise<number>,
  cgroup: SandboxCgroup | undefined,
): Promise<void> {
  const graceful = await Promise.race([
    exited.then(() => true),
    sleep(2000, undefined, { ref: false }).then(() => false),
  ]);
  // A graceful exit needs no sweep: when the agent (PID 1 of the sandbox's pid namespace) exits,
  // the kernel kills and reaps every other process in it before the launcher's wait returns.
  if (graceful) return;
  launcher.kill('SIGKILL');
  await cgroup?.killAll();
  await exited;
}

function launcherError(code: number, stderr: string, sandboxId: string): MagsError {
  const detail = stderr.trim().split('\n').slice(-5).join('\n');
  if (code === launcherBusy) {
    return new ConflictError('The workspace is in use by another run.', {
      sandboxId,
      hint: 'Wait for the other run to finish, or run read-only on top of it with --base NAME.',
    });
  }
  const what =
    code === launcherSetupFailed || code === launcherUsage
      ? 'could not be set up'
      : `exited with code ${code} before it was ready`;
  return new MagsError(`The sandbox ${what}: ${detail || '(no message)'}`, {
    code: 'sandbox_start_failed',
    sandboxId,
    hint: 'Run: npx mags doctor   to check what this host is missing.',
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (constants.signals[signal] ?? 1) : 0;
}
