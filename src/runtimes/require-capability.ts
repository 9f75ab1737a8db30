import { CapabilityUnsupportedError } from '../errors/mags-error.ts';
import type { Runtime, RuntimeCapabilities, Sandbox } from './runtime.ts';

export type OptionalSandboxMember =
  | 'setLimits'
  | 'pause'
  | 'resume'
  | 'detach'
  | 'resumeExec'
  | 'listExecs'
  | 'forgetExec'
  | 'egressBlocked'
  | 'openPort';
export type OptionalRuntimeMember = 'prepare' | 'list' | 'attach' | 'sweep';

/** The capability flag that guards each optional member of a sandbox. */
export const sandboxCapabilityOf = {
  setLimits: 'setLimits',
  pause: 'pause',
  resume: 'pause',
  detach: 'reattach',
  resumeExec: 'reattach',
  listExecs: 'reattach',
  forgetExec: 'reattach',
  egressBlocked: 'egressAllowList',
  openPort: 'ports',
} as const satisfies Record<OptionalSandboxMember, keyof RuntimeCapabilities>;

/** The capability flag that guards each optional member of a runtime. */
export const runtimeCapabilityOf = {
  prepare: 'prepare',
  list: 'reattach',
  attach: 'reattach',
  sweep: 'sweep',
} as const satisfies Record<OptionalRuntimeMember, keyof RuntimeCapabilities>;

const capabilityOf = { ...sandboxCapabilityOf, ...runtimeCapabilityOf };

type RuntimeIdentity = Pick<Runtime, 'name' | 'capabilities'>;

/** Throws `CapabilityUnsupportedError` unless the runtime declares the capability. */
export function requireCapability(
  runtime: RuntimeIdentity,
  capability: keyof RuntimeCapabilities,
): void {
  if (!runtime.capabilities[capability]) {
    throw new CapabilityUnsupportedError(runtime.name, capability);
  }
}

/**
 * An optional member of one of the runtime's sandboxes, bound to it; throws
 * `CapabilityUnsupportedError` when the runtime lacks its capability (or declares it without
 * implementing the member), instead of the silent no-op of `sandbox.pause?.()`.
 */
export function sandboxOperation<Member extends OptionalSandboxMember>(
  runtime: RuntimeIdentity,
  sandbox: Sandbox,
  member: Member,
): NonNullable<Sandbox[Member]> {
  return boundMember(runtime, sandbox, member);
}

/** An optional member of the runtime itself (`sweep`, `prepare`, ...), the same way. */
export function runtimeOperation<Member extends OptionalRuntimeMember>(
  runtime: Runtime,
  member: Member,
): NonNullable<Runtime[Member]> {
  return boundMember(runtime, runtime, member);
}

function boundMember<
  Target extends object,
  Member extends keyof Target & keyof typeof capabilityOf,
>(runtime: RuntimeIdentity, target: Target, member: Member): NonNullable<Target[Member]> {
  const capability = capabilityOf[member];
  requireCapability(runtime, capability);
  const value = target[member];
  if (typeof value !== 'function') throw new CapabilityUnsupportedError(runtime.name, capability);
  return value.bind(target) as NonNullable<Target[Member]>;
}
