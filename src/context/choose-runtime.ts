import { InvalidInputError } from '../errors/mags-error.ts';
import { namespaceRuntimeFactory } from '../runtimes/namespace/namespace-runtime-factory.ts';
import type { RuntimeFactory } from '../runtimes/runtime-factory.ts';

/**
 * The runtimes a user can choose with `MAGS_RUNTIME`. One entry per runtime: a microVM or a
 * Kubernetes runtime is one more line here, and nothing above the context names a runtime. (The
 * fake runtime is for tests only: it does not isolate, so it is never offered.)
 */
const runtimes: Record<string, RuntimeFactory> = {
  namespace: namespaceRuntimeFactory,
};

const defaultRuntimeName = 'namespace';

/** The factory of the runtime `MAGS_RUNTIME` names (default `namespace`). */
export function chooseRuntime(name: string | undefined): RuntimeFactory {
  const chosen = name === undefined || name === '' ? defaultRuntimeName : name;
  const factory = runtimes[chosen];
  if (!factory) {
    throw new InvalidInputError(`Unknown runtime ${JSON.stringify(chosen)} in MAGS_RUNTIME.`, {
      hint: `Available on this build: ${Object.keys(runtimes).join(', ')}.`,
    });
  }
  return factory;
}
