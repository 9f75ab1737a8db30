import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, open, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, MagsError } from '../../errors/mags-error.ts';
import { connectGuest, connectGuestRetrying } from '../../guest/connect-guest.ts';
import type { GuestClient } from '../../guest/guest-client.ts';
import { egressLauncherPairs } from '../egress-policy.ts';
import type {
  AttachSpec,
  PreparedSandbox,
  ResourceLimits,
  Sandbox,
  SandboxExit,
  SandboxSpec,
} from '../runtime.ts';
import { cgroupLimits } from './cgroup-limits.ts';
import { assertTraversable } from './check-traversable.ts';
import type { ResolvedNamespaceOptions } from './namespace-runtime.ts';
import { namespaceSandboxHandle, type SandboxParts } from './namespace-sandbox-handle.ts';
import type { OverlayLayers } from './overlay-layers.ts';
import {
  agentSocketName,
  egressLogName,
  launcherLogName,
  removeEndedSandbox,
  writeRunRecord,
} from './run-record.ts';
import { createSandboxCgroup, type SandboxCgroup } from './sandbox-cgroup.ts';
import { writeRunOwner } from './sweep-leftovers.ts';

/** Exit codes reserved by `mags-sandbox` for its own failures (see native/sandbox.c). */
const launcherBusy = 75;
const launcherSetupFailed = 71;
const launcherUsage = 64;
const stderrTailBytes = 16 * 1024;

/**
 * What the launcher runs in the sandbox it sets up: the guest agent (this runtime), or a virtual
 * machine monitor with the agent inside its guest (the qemu runtime, which shares everything
 * else: run directory, cgroup, namespaces, layers, locks and the agent's stream).
 */
export interface SandboxLaunch {
  /** Kept in the run record: each runtime lists and attaches only its own sandboxes. */
  runtime: string;
  /** The launcher's options after the common ones, then `--` and the program with its arguments. */
  programArguments(runDirectory: string): string[];
  /**
   * The socket the host reaches the agent through when the program serves it (a VM monitor's
   * chardev, on the socket the launcher listens on, which it accepts once started). Without it
   * the agent's stream is the launcher's fd 3, a socketpair with this process (no connect round
   * trip at start); with it the launcher gets no fd 3 (nothing of this process reaches it).
   */
  agentSocket?(runDirectory: string): string;
  /**
   * What to try when the agent never says HELLO at start (a VM that does not boot); the error
   * carries the end of the launcher's log with it (there, the guest's console).
   */
  startHint?: string;
  /** The limits the host's cgroup holds for a sandbox's limits (a VM's monitor needs more). */
  hostLimits(limits: ResourceLimits): ResourceLimits;
  /** The sandbox object over the running parts. */
  handle(parts: SandboxParts): Sandbox;
}

export function namespaceLaunch(
  options: Pick<ResolvedNamespaceOptions, 'agentPath'>,
): SandboxLaunch {
  return {
    runtime: 'namespace',
    // The server's own connection on fd 3, and a socket in the run directory for whoever comes
    // next (a restarted server: Runtime.attach).
    programArguments: (runDirectory) => [
      '--fd',
      '3',
      '--listen',
      join(runDirectory, agentSocketName),
      '--',
      options.agentPath,
    ],
    hostLimits: (limits) => limits,
    handle: namespaceSandboxHandle,
  };
}

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
  launch: SandboxLaunch = namespaceLaunch(options),
): Promise<PreparedSandbox> {
  // Layers that come later (a pooled sandbox's) need the host readied before the namespace exists.
  if (!materialised) await options.layers.prepareHost();
  const runDirectory = join(options.home, 'run', id);
  const rootMount = join(runDirectory, 'root');
  // A throw-away sandbox still needs a writable layer: a tmpfs the launcher mounts here, in the
  // sandbox's own mount namespace, sized by `limits.diskMiB` (it dies with the sandbox).
  const scratchDirectory = join(runDirectory, 'scratch');
  const directories = async () => {
    // 0711: sandbox root (an unprivileged host uid) must traverse it to reach its mountpoint.
    await mkdir(rootMount, { recursive: true, mode: 0o711 });
    await chmod(runDirectory, 0o711);
    await chmod(join(options.home, 'run'), 0o711);
    await writeRunOwner(runDirectory);
    await mkdir(scratchDirectory, { mode: 0o711 });
    await assertTraversable([rootMount, scratchDirectory], options.uidBase);
  };
  // The run directory and the cgroup are independent: made side by side (a start waits for
  // the slower one, not for both in turn).
  const [made, created] = await Promise.allSettled([
    directories(),
    createSandboxCgroup(id, launch.hostLimits(limits), options.cgroupRoot),
  ]);
  if (made.status === 'rejected' || created.status === 'rejected') {
    // Nothing may be left behind by a sandbox that never started.
    if (created.status === 'fulfilled') await created.value.cgroup?.remove();
    await rm(runDirectory, { recursive: true, force: true });
    throw made.status === 'rejected' ? made.reason : (created as PromiseRejectedResult).reason;
  }
  const setup = created.value;
  const { cgroup } = setup;
  // Limits are set at prepare time; an attach or a reuse that asks for others rewrites them.
  const limitState = cgroupLimits(cgroup, launch.hostLimits(limits), setup.warnings);
  const { setLimits } = limitState;
  const args = [
    '--root',
    rootMount,
    '--uid-base',
    String(options.uidBase),
    '--id-count',
    String(options.idCount),
    ...(cgroup?.joinPaths ?? []).flatMap((path) => ['--cgroup', path]),
    '--attach-fd',
    '4',
    ...launch.programArguments(runDirectory),
  ];
  // fd 3 and 4 are 'pipe's, which libuv creates as unix socketpairs: the agent's byte stream
  // (unless the program serves its own socket) and the attach channel. The launcher outlives this
  // process: its own session (no signal to the server's process group reaches it), stderr to a
  // file (no pipe to break when we die).
  const agentSocket = launch.agentSocket?.(runDirectory);
  const logPath = join(runDirectory, launcherLogName);
  const log = await open(logPath, 'a', 0o600);
  const launcher = spawn(options.launcherPath, args, {
    stdio: ['ignore', 'ignore', log.fd, agentSocket ? 'ignore' : 'pipe', 'pipe'],
    detached: true,
  });
  void log.close();
  const stderrTail = () => readTail(logPath, stderrTailBytes);
  // From here on the launcher's life is the sandbox's (sweep-leftovers.ts).
  const ownerWritten = launcher.pid
    ? writeRunOwner(runDirectory, launcher.pid).catch(() => {})
    : Promise.resolve();
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
      return removeEndedSandbox(cgroup, runDirectory);
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
      if (exited) throw launcherError(await launcherExit, await stderrTail(), id);
      await setLimits(launch.hostLimits(spec.limits));
      // The layer provider turns the spec's references into directories and locks.
      const layers = materialised ?? (await options.layers.materialise(spec));
      attachChannel.end(
        attachMessage(
          spec,
          layers,
          layers.writable ?? { scratchDirectory },
          join(runDirectory, egressLogName),
        ),
      );
      const failed = launcherExit.then(async (code) => {
        throw launcherError(code, await stderrTail(), id);
      });
      client = await Promise.race([
        agentSocket
          ? connectGuestRetrying(agentSocket, {
              timeoutMs: options.startTimeoutMs,
              gone: () => exited,
            })
          : connectGuest(
              { kind: 'stream', stream: launcher.stdio[3] as Duplex },
              { helloTimeoutMs: options.startTimeoutMs },
            ),
        failed,
      ]).catch(async (error: unknown) => {
        // The agent's stream closes as the launcher exits (a busy lock, say), often before its
        // exit is seen here (its stderr is a file, read once it has exited): its exit code, when
        // it comes at once, says why.
        const code = await Promise.race([launcherExit, sleep(1000, undefined, { ref: false })]);
        if (code !== undefined) throw launcherError(code, await stderrTail(), id);
        throw isHelloTimeout(error)
          ? silentAgentError(error, await stderrTail(), id, launch)
          : error;
      });
      failed.catch(() => {});
      // The launcher, the agent (and slirp4netns with a network, the egress keeper and DNS filter
      // with an allow-list): what an idle sandbox counts.
      baseline = await cgroup?.processCount();
      await ownerWritten;
      await writeRunRecord(runDirectory, {
        id,
        runtime: launch.runtime,
        labels: spec.labels ?? {},
        ...(spec.workspace ? { workspace: spec.workspace } : {}),
        launcherPid: launcher.pid ?? 0,
        startedAt: new Date().toISOString(),
        limits: spec.limits,
        warnings: limitState.warnings(),
        ...(baseline === undefined ? {} : { baselineProcesses: baseline }),
        ...(typeof spec.network.egress === 'object' ? { egressAllowList: true } : {}),
      });
    } catch (error) {
      await cleanup();
      throw error;
    }
    return launch.handle({
      id,
      labels: spec.labels ?? {},
      ...(spec.workspace ? { workspace: spec.workspace } : {}),
      client,
      cgroup,
      baselineProcesses: baseline,
      ...(typeof spec.network.egress === 'object'
        ? { egressLog: { path: join(runDirectory, egressLogName), offset: 0 } }
        : {}),
      ...limitState,
      paused: false,
      launcherGone: () => exited,
      cleanup,
      release: () => {
        attachChannel.destroy();
        (launcher.stdio[3] as Duplex | null)?.destroy();
        launcher.unref();
      },
    });
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
  egressLogPath: string,
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
    ...egressLauncherPairs(spec.network, egressLogPath),
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

function isHelloTimeout(error: unknown): error is MagsError {
  return error instanceof MagsError && ['guest_timeout', 'guest_unreachable'].includes(error.code);
}

/** A start whose agent never answered, with the end of the launcher's log (a VM's console). */
function silentAgentError(
  cause: MagsError,
  log: string,
  sandboxId: string,
  launch: SandboxLaunch,
): MagsError {
  const tail = log.trim().split('\n').slice(-20).join('\n');
  return new MagsError(
    `The sandbox did not start: ${cause.message}` +
      (tail ? ` The end of the launcher's log:\n${tail}` : " The launcher's log is empty."),
    {
      code: 'sandbox_start_failed',
      sandboxId,
      cause,
      hint: launch.startHint ?? 'Run: npx mags doctor   to check what this host is missing.',
    },
  );
}

/** The last `bytes` of a file (read at an offset: the file may be large), or '' without one. */
async function readTail(path: string, bytes: number): Promise<string> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return '';
  try {
    const { size } = await file.stat();
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await file.read(buffer, 0, length, size - length);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await file.close();
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (constants.signals[signal] ?? 1) : 0;
}
