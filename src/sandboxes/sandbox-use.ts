import type { Sandbox } from '../runtimes/runtime.ts';

/**
 * One use of a running long-lived sandbox (`SandboxManager.use`): the sandbox, awake, and held
 * in use (it does not sleep) until `release` is called. Releasing twice is harmless.
 */
export interface SandboxUse {
  sandbox: Sandbox;
  release(): void;
}
