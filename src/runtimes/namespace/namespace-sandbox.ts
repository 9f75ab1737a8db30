import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, MagsError } from '../../errors/mags-error.ts';
import { GuestClient } from '../../guest/guest-client.ts';
import type { Sandbox, SandboxExit, SandboxSpec } from '../runtime.ts';
import { assertTraversable } from './check-traversable.ts';
import type { NamespaceRuntimeOptions } from './namespace-runtime.ts';
import { createSandboxCgroup, type SandboxCgroup } from './sandbox-cgroup.ts';

/** Exit codes reserved by `mags-sandbox` for its own failures (see native/sandbox.c). */
const launcherBusy = 75;
const launcherSetupFailed = 71;
const launcherUsage = 64;
const stderrTailBytes = 16 * 1024;

export async function startNamespaceSandbox(
  options: Required<NamespaceRuntimeOptions>,
  spec: SandboxSpec,
): Promise<Sandbox> {
  const runDirectory = join(options.home, 'run', spec.id);
  const rootMount = join(runDirectory, 'root');
  // 0711: sandbox root (an unprivileged host uid) must traverse it to reach its mountpoint.
  await mkdir(rootMount, { recursive: true, mode: 0o711 });
  await chmod(runDirectory, 0o711);
  await chmod(join(options.home, 'run'), 0o711);

  // A throw-away sandbox still needs a writable layer; it lives and dies with the run directory.
  let writable = spec.rootfs.writable;
  if (!writable) {
    writable = { upperDir: join(runDirectory, 'upper'), workDir: join(runDirectory, 'work') };
    for (const directory of [writable.upperDir, writable.workDir]) {
      await mkdir(directory, { recursive: true });
      await chown(directory, options.uidBase, options.uidBase);
    }
  }

  let setup: Awaited<ReturnType<typeof createSandboxCgroup>>;
  try {
    await assertTraversable(
      [...spec.rootfs.lowerDirs, writable.upperDir, writable.workDir, rootMount],
      options.uidBase,
    );
    setup = await createSandboxCgroup(spec.id, spec.limits, options.cgroupRoot);
  } catch (error) {
    // Nothing may be left behind by a sandbox that never started.
    await rm(runDirectory, { recursive: true, force: true });
    throw error;
  }
  const { cgroup, warnings } = setup;
  const args = [
    '--root',
    rootMount,
    ...spec.rootfs.lowerDirs.flatMap((directory) => ['--lower', directory]),
    '--upper',
    writable.upperDir,
    '--work',
    writable.workDir,
    '--uid-base',
    String(options.uidBase),
    '--id-count',
    String(options.idCount),
    '--hostname',
    spec.hostname ?? 'mags',
    ...(cgroup?.joinPaths ?? []).flatMap((path) => ['--cgroup', path]),
    ...(spec.locks?.exclusive ?? []).flatMap((path) => ['--lock-exclusive', path]),
    ...(spec.locks?.shared ?? []).flatMap((path) => ['--lock-shared', path]),
    ...(spec.network ? ['--net'] : []),
    '--fd',
    '3',
    '--',
    options.agentPath,
  ];
  // fd 3 is a 'pipe', which libuv creates as a unix socketpair: the agent's byte stream.
  const launcher = spawn(options.launcherPath, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let stderrTail = '';
  launcher.stderr?.setEncoding('utf8');
  launcher.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-stderrTailBytes);
  });
  const launcherExit = new Promise<number>((resolve) => {
    launcher.on('exit', (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
    launcher.on('error', () => resolve(launcherSetupFailed));
  });

  const cleanup = async (): Promise<SandboxExit> => {
    await killAndWait(launcher, launcherExit, cgroup);
    const exit: SandboxExit = {
      oomKills: (await cgroup?.oomKillCount()) ?? 0,
      peakMemoryBytes: await cgroup?.peakMemoryBytes(),
    };
    await cgroup?.remove();
    await rm(runDirectory, { recursive: true, force: true });
    return exit;
  };

  let client: GuestClient;
  try {
    const socket = launcher.stdio[3] as Duplex;
    const failed = launcherExit.then((code) => {
      throw launcherError(code, stderrTail, spec);
    });
    client = await Promise.race([
      GuestClient.connect(socket, { helloTimeoutMs: options.startTimeoutMs }),
      failed,
    ]);
    failed.catch(() => {});
  } catch (error) {
    await cleanup();
    throw error;
  }

  let stopping: Promise<SandboxExit> | undefined;
  return {
    id: spec.id,
    warnings,
    exec: (request) => client.exec(request),
    writeFile: (path, data, writeOptions) => client.writeFile(path, data, writeOptions),
    readFile: (path) => client.readFile(path),
    async usage() {
      return {
        oomKills: (await cgroup?.oomKillCount()) ?? 0,
        peakMemoryBytes: await cgroup?.peakMemoryBytes(),
      };
    },
    stop() {
      stopping ??= (async () => {
        // Closing the agent's stream ends the agent (PID 1), and with it every process inside.
        client.close();
        return cleanup();
      })();
      return stopping;
    },
  };
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

function launcherError(code: number, stderr: string, spec: SandboxSpec): MagsError {
  const detail = stderr.trim().split('\n').slice(-5).join('\n');
  if (code === launcherBusy) {
    return new ConflictError('The workspace is in use by another run.', {
      sandboxId: spec.id,
      hint: 'Wait for the other run to finish, or run read-only on top of it with --base NAME.',
    });
  }
  const what =
    code === launcherSetupFailed || code === launcherUsage
      ? 'could not be set up'
      : `exited with code ${code} before it was ready`;
  return new MagsError(`The sandbox ${what}: ${detail || '(no message)'}`, {
    code: 'sandbox_start_failed',
    sandboxId: spec.id,
    hint: 'Run: npx mags doctor   to check what this host is missing.',
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (constants.signals[signal] ?? 1) : 0;
}
