import type { ResourceLimits } from '../runtime.ts';
import type { SandboxCgroup } from './sandbox-cgroup.ts';

/** A running sandbox's limits as its cgroup holds them, and the warnings of the last change. */
export interface CgroupLimits {
  /** Applies `wanted` unless memory, CPUs and process count are as they are; returns warnings. */
  setLimits(wanted: ResourceLimits): Promise<string[]>;
  warnings(): string[];
}

/**
 * Limits are set when the cgroup is made (a prepared sandbox's, or a record's when attached); an
 * attach, a reuse or `Sandbox.setLimits` that asks for others rewrites them. Without a cgroup
 * nothing can change, and the first warnings stay.
 */
export function cgroupLimits(
  cgroup: SandboxCgroup | undefined,
  applied: ResourceLimits,
  initialWarnings: string[],
): CgroupLimits {
  let appliedLimits = applied;
  let warnings = initialWarnings;
  return {
    async setLimits(wanted) {
      if (!cgroup || sameLimits(wanted, appliedLimits)) return warnings;
      warnings = await cgroup.applyLimits(wanted);
      appliedLimits = wanted;
      return warnings;
    },
    warnings: () => warnings,
  };
}

/** The cgroup's limits only: `diskMiB` is the writable layer's, not the cgroup's. */
function sameLimits(a: ResourceLimits, b: ResourceLimits): boolean {
  return a.memoryMiB === b.memoryMiB && a.cpus === b.cpus && a.pidsMax === b.pidsMax;
}
