import { sandboxOperation } from '../runtimes/require-capability.ts';
import type { Runtime, Sandbox } from '../runtimes/runtime.ts';
import type { SchedulerMetrics } from '../scheduling/scheduler-metrics.ts';
import type { SandboxRecord, StateRepository } from '../state/state-repository.ts';

/** A long-lived sandbox running in this process, with its record as last stored. */
export interface LiveSandbox {
  record: SandboxRecord;
  sandbox: Sandbox;
  /** Execs and shells running now: a sandbox in use never sleeps. */
  inUse: number;
  /** A freeze or thaw under way; the next one waits for it. */
  transition: Promise<void>;
}

export function liveSandbox(record: SandboxRecord, sandbox: Sandbox): LiveSandbox {
  return { record, sandbox, inUse: 0, transition: Promise.resolve() };
}

/** What freezing and thawing a sandbox touch besides it. */
export interface SleepServices {
  /** The runtime the sandbox of a record runs on. */
  runtimeOf(record: SandboxRecord): Runtime;
  repository: StateRepository;
  /** A server's scheduler metrics (sleeps, wakes), looked up when counted: set after start. */
  metrics(): SchedulerMetrics | undefined;
  /** Told once a sleep or a wake is recorded (SandboxManager.onChange). */
  changed?(record: SandboxRecord): void;
}

/**
 * Freezes the sandbox (capability `pause`) after whatever transition is under way, unless it was
 * woken or used meanwhile; records it sleeping. Rejects when the runtime cannot freeze it.
 */
export function freezeSandbox(live: LiveSandbox, services: SleepServices): Promise<void> {
  const { record, sandbox } = live;
  live.transition = live.transition.then(async () => {
    if (record.status !== 'running' || live.inUse > 0) return;
    await sandboxOperation(services.runtimeOf(record), sandbox, 'pause')();
    record.status = 'sleeping';
    services.metrics()?.sleeps.inc();
    // Not over the record of a host found gone meanwhile (see `upsertSandbox`).
    await services.repository.upsertSandbox(record, record.server ? 'holding' : undefined);
    services.changed?.(record);
  });
  return live.transition;
}

/** Thaws a sleeping sandbox (after any transition under way) and records it running. */
export async function wakeSandbox(live: LiveSandbox, services: SleepServices): Promise<void> {
  await live.transition.catch(() => {});
  if (live.record.status !== 'sleeping') return;
  const startedAt = performance.now();
  live.transition = (async () => {
    // Only a paused sandbox sleeps, so its runtime can resume it.
    await sandboxOperation(services.runtimeOf(live.record), live.sandbox, 'resume')();
    live.record.status = 'running';
    const metrics = services.metrics();
    metrics?.wakes.inc();
    metrics?.wakeSeconds.observe((performance.now() - startedAt) / 1000);
    await services.repository.upsertSandbox(
      live.record,
      live.record.server ? 'holding' : undefined,
    );
    services.changed?.(live.record);
  })();
  await live.transition;
}
