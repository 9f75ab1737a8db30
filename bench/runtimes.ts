import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { nativeBinaryPath } from '../src/config/package-paths.ts';
import { createMagsContext } from '../src/context/mags-context.ts';
import { collect } from '../src/runtimes/contract/contract-harness.ts';
import { namespaceRuntimeFactory } from '../src/runtimes/namespace/namespace-runtime-factory.ts';
import { type AcceleratorChoice, chooseAccelerator } from '../src/runtimes/qemu/accelerator.ts';
import { checkQemuHost } from '../src/runtimes/qemu/check-qemu-host.ts';
import { findGuestKernel, type GuestKernel } from '../src/runtimes/qemu/guest-kernel.ts';
import { guestMemoryMiB } from '../src/runtimes/qemu/qemu-command-line.ts';
import { qemuRuntimeFactory } from '../src/runtimes/qemu/qemu-runtime-factory.ts';
import type { ResourceLimits, Runtime, Sandbox } from '../src/runtimes/runtime.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { measureBwrapFloor } from './floors.ts';
import { measureQemuBootFloor } from './qemu-boot-floor.ts';
import {
  formatMiB,
  formatProcesses,
  type SandboxMemory,
  sandboxMemory,
  totalRssBytes,
} from './runtime-memory.ts';
import { measure, printRows, type Summary } from './stats.ts';

const namespaceIterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 30);
/** A qemu cold start is seconds under TCG: few samples keep the section near a minute. */
const vmIterations = Number(process.env.MAGS_BENCH_VM_ITERATIONS ?? 5);
/** The same for both runtimes: the VM's RAM is `memoryMiB`. */
const limits: ResourceLimits = { memoryMiB: 512, cpus: 1, pidsMax: 64 };
/** Long enough for a frozen cgroup's reclaim and a booted guest's page cache to settle. */
const settleMs = 1000;

interface RuntimeFigures {
  cold: Summary;
  warm: Summary;
  thawed: Summary;
  idle: SandboxMemory;
  paused: SandboxMemory;
  /** A VM's RAM that its kernel does not count free (touched, so resident in QEMU), in bytes. */
  guestInUseBytes?: number;
}

/**
 * Issue 15: `namespace` and `qemu` side by side in one run: cold start → exit of `true`
 * (start + exec + stop, a VM's boot included), `true` in a running sandbox (what the warm cache
 * gives) and in a paused one, and the host memory of a sandbox idle and paused; beside each
 * runtime's floor (bwrap; QEMU's own boot of the same kernel) and Firecracker's published figures.
 */
export async function runtimesBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## runtimes: skipped (${skip})\n`);
    return;
  }
  const testHome = await createTestHome();
  const environment = { ...process.env, MAGS_HOME: testHome.home };
  const context = createMagsContext(environment);
  const create = (factory: typeof namespaceRuntimeFactory) =>
    factory.create({ home: testHome.home, environment, stores: context });
  try {
    const bwrap = await measureBwrapFloor(namespaceIterations);
    const namespace = await measureRuntime(create(namespaceRuntimeFactory), {
      coldIterations: namespaceIterations,
      warmIterations: namespaceIterations,
      warmup: 3,
    });
    const vm = await qemuSetup(testHome.home, environment);
    let qemu: { floor: Summary; figures: RuntimeFigures; choice: AcceleratorChoice } | undefined;
    if ('skip' in vm) {
      process.stdout.write(`\n## runtimes: qemu skipped (${vm.skip})\n`);
    } else {
      const choice = await chooseAccelerator({
        home: testHome.home,
        kernel: vm.kernel,
        environment,
      });
      const floor = await measureQemuBootFloor({
        qemuPath: vm.qemuPath,
        kernel: vm.kernel,
        accelerator: choice.accelerator,
        // The VM a sandbox with these limits gets (the guest kernel's share on top).
        memoryMiB: guestMemoryMiB(limits),
        iterations: vmIterations,
      });
      const figures = await measureRuntime(create(qemuRuntimeFactory), {
        coldIterations: vmIterations,
        warmIterations: namespaceIterations,
        warmup: 1,
        guest: true,
      });
      qemu = { floor, figures, choice };
    }
    printLatency(bwrap, namespace, qemu);
    printMemory(namespace, qemu);
  } finally {
    await testHome.cleanup();
  }
}

async function measureRuntime(
  runtime: Runtime,
  counts: { coldIterations: number; warmIterations: number; warmup: number; guest?: boolean },
): Promise<RuntimeFigures> {
  const prefix = `bench-${runtime.name}-${randomBytes(3).toString('hex')}`;
  let started = 0;
  const start = () =>
    runtime.start({
      id: `${prefix}-${started++}`,
      image: { name: 'default' },
      limits,
      network: { egress: 'none' },
      hostname: 'bench',
    });
  const cold = await measure(
    'start + exec true + stop',
    counts.coldIterations,
    async () => {
      const sandbox = await start();
      try {
        await runTrue(sandbox);
      } finally {
        await sandbox.stop();
      }
    },
    counts.warmup,
  );
  const sandbox = await start();
  try {
    const warm = await measure('exec true, running', counts.warmIterations, () => runTrue(sandbox));
    await sleep(settleMs);
    const idle = await sandboxMemory(sandbox.id);
    const guestInUseBytes = counts.guest ? await guestInUse(sandbox) : undefined;
    if (!sandbox.pause) throw new Error(`${runtime.name} sandboxes cannot pause`);
    await sandbox.pause();
    await sleep(settleMs);
    const paused = await sandboxMemory(sandbox.id);
    // An exec thaws a paused sandbox; each sample pauses it again first, untimed.
    const thawed = await measure('exec true, paused', counts.warmIterations, async () => {
      await sandbox.pause?.();
      const startedAt = performance.now();
      await runTrue(sandbox);
      return performance.now() - startedAt;
    });
    return {
      cold,
      warm,
      thawed,
      idle,
      paused,
      ...(guestInUseBytes === undefined ? {} : { guestInUseBytes }),
    };
  } finally {
    await sandbox.stop();
  }
}

/**
 * The guest RAM its kernel does not report free: the part of QEMU's RSS that is the guest's, so
 * the rest approximates the monitor's own memory (an upper bound: pages the guest touched and
 * freed stay resident in QEMU).
 */
async function guestInUse(sandbox: Sandbox): Promise<number | undefined> {
  const result = await collect(
    sandbox.exec({ argv: ['/bin/cat', '/proc/meminfo'], env: {}, cwd: '/' }),
  );
  // The VM has more memory than the sandbox's limit (its kernel's share): MemTotal, not the limit.
  const text = result.stdout.toString();
  const total = /^MemTotal:\s+(\d+) kB$/m.exec(text)?.[1];
  const free = /^MemFree:\s+(\d+) kB$/m.exec(text)?.[1];
  return total === undefined || free === undefined
    ? undefined
    : (Number(total) - Number(free)) * 1024;
}

async function runTrue(sandbox: Sandbox): Promise<void> {
  const result = await collect(sandbox.exec({ argv: ['/bin/true'], env: {}, cwd: '/' }));
  if (result.exitCode !== 0) throw new Error(`true failed: ${result.stderr.toString()}`);
}

/** The kernel, QEMU and init a qemu sandbox needs, or why this host cannot run one. */
async function qemuSetup(
  home: string,
  environment: NodeJS.ProcessEnv,
): Promise<{ kernel: GuestKernel; qemuPath: string } | { skip: string }> {
  const qemuPath = environment.MAGS_QEMU_PATH ?? '/usr/bin/qemu-system-x86_64';
  const paths = {
    launcherPath: nativeBinaryPath('mags-sandbox'),
    agentPath: nativeBinaryPath('mags-agent'),
    initPath: nativeBinaryPath('mags-vm-init'),
  };
  if (!existsSync(paths.initPath)) return { skip: `${paths.initPath} is not built: npm run build` };
  const kernel = await findGuestKernel({ home, ...paths });
  if (kernel && existsSync(qemuPath)) return { kernel, qemuPath };
  const check = await checkQemuHost({
    home,
    environment,
    initPath: paths.initPath,
    agentPath: paths.agentPath,
  });
  const problems = check.problems.join('; ');
  return { skip: problems || `no guest kernel found or ${qemuPath} missing` };
}

const ms = (summary: Summary) => summary.medianMs.toFixed(1);
const p95 = (summary: Summary) => summary.p95Ms.toFixed(1);
const times = (value: Summary, base: Summary) => `${(value.medianMs / base.medianMs).toFixed(2)}×`;

function printLatency(
  bwrap: Summary,
  namespace: RuntimeFigures,
  qemu: { floor: Summary; figures: RuntimeFigures; choice: AcceleratorChoice } | undefined,
): void {
  const accelerator = qemu ? `qemu (${qemu.choice.accelerator})` : 'qemu';
  const row = (runtime: string, summary: Summary, floor: Summary | undefined, vs = '') => [
    summary.name,
    runtime,
    String(summary.samples),
    ms(summary),
    p95(summary),
    floor ? `${times(summary, floor)} ${floor.name.split(' ')[0]}` : 'floor',
    vs,
  ];
  const skipped = (name: string) => [name, 'qemu', '0', '-', '-', 'skipped', ''];
  const rows = [
    row('namespace', bwrap, undefined),
    row('namespace', namespace.cold, bwrap),
    row('namespace', namespace.warm, bwrap),
    row('namespace', namespace.thawed, bwrap),
    ...(qemu
      ? [
          row(accelerator, qemu.floor, undefined),
          row(accelerator, qemu.figures.cold, qemu.floor, times(qemu.figures.cold, namespace.cold)),
          row(accelerator, qemu.figures.warm, bwrap, times(qemu.figures.warm, namespace.warm)),
          row(
            accelerator,
            qemu.figures.thawed,
            bwrap,
            times(qemu.figures.thawed, namespace.thawed),
          ),
        ]
      : [
          'qemu boot floor',
          'start + exec true + stop',
          'exec true, running',
          'exec true, paused',
        ].map(skipped)),
    // GUIDE §3: the figures Firecracker's specification promises, on a KVM host.
    ['VMM start (published)', 'firecracker', '-', '~12', '-', 'reference', ''],
    ['boot to init (published)', 'firecracker', '-', '≤ 125', '-', 'reference', ''],
  ];
  const reason = qemu ? `; qemu accelerator ${qemu.choice.accelerator}: ${qemu.choice.reason}` : '';
  printRows(
    `runtimes: latency (Node ${process.versions.node}, ${limits.memoryMiB} MiB, ${limits.cpus} vCPU${reason})`,
    ['operation', 'runtime', 'n', 'median ms', 'p95 ms', 'vs floor (median)', 'qemu / namespace'],
    rows,
  );
}

function printMemory(
  namespace: RuntimeFigures,
  qemu: { figures: RuntimeFigures; choice: AcceleratorChoice } | undefined,
): void {
  const row = (runtime: string, state: string, memory: SandboxMemory, guest?: number) => [
    runtime,
    state,
    formatMiB(totalRssBytes(memory)),
    formatMiB(memory.chargedBytes),
    guest === undefined ? '-' : formatMiB(guest),
    guest === undefined ? '-' : formatMiB(totalRssBytes(memory) - guest),
    formatProcesses(memory),
  ];
  const accelerator = qemu ? `qemu (${qemu.choice.accelerator})` : 'qemu';
  printRows(
    'runtimes: host memory of one sandbox (MiB)',
    [
      'runtime',
      'state',
      'processes RSS',
      'cgroup charge',
      'guest RAM not free',
      'RSS − guest (≈ monitor)',
      'per process RSS',
    ],
    [
      row('namespace', 'running, idle', namespace.idle),
      row('namespace', 'paused (frozen, reclaim asked)', namespace.paused),
      ...(qemu
        ? [
            row(accelerator, 'running, idle', qemu.figures.idle, qemu.figures.guestInUseBytes),
            row(
              accelerator,
              'paused (frozen, reclaim asked)',
              qemu.figures.paused,
              qemu.figures.guestInUseBytes,
            ),
          ]
        : [['qemu', 'skipped', '-', '-', '-', '-', '-']]),
      [
        'firecracker (published)',
        'VMM overhead beside guest RAM',
        '-',
        '-',
        '-',
        '≤ 5',
        'reference',
      ],
    ],
  );
}
