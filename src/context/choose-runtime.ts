import type { IdMapping } from '../config/id-mapping.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import { kubernetesRuntimeFactory } from '../runtimes/kubernetes/kubernetes-runtime-factory.ts';
import { namespaceRuntimeFactory } from '../runtimes/namespace/namespace-runtime-factory.ts';
import { qemuRuntimeFactory } from '../runtimes/qemu/qemu-runtime-factory.ts';
import type { RuntimeFactory } from '../runtimes/runtime-factory.ts';

/**
 * The runtimes a user can choose (`MAGS_RUNTIME` or `--runtime` for the default, `--runtime` per
 * run and sandbox). One entry per runtime: a microVM or a Kubernetes runtime is one more line
 * here, and nothing above the context names a runtime. (The fake runtime is for tests only: it
 * does not isolate, so it is never offered.)
 */
const runtimes: Record<string, RuntimeFactory> = {
  namespace: namespaceRuntimeFactory,
  qemu: qemuRuntimeFactory,
  kubernetes: kubernetesRuntimeFactory,
};

const defaultRuntimeName = 'namespace';

/** The factory of the default runtime `MAGS_RUNTIME` (or `--runtime`) names (default `namespace`). */
export function chooseRuntime(name: string | undefined): RuntimeFactory {
  const chosen = name === undefined || name === '' ? defaultRuntimeName : name;
  const factory = runtimes[chosen];
  if (!factory) {
    throw new InvalidInputError(
      `Unknown runtime ${JSON.stringify(chosen)} (MAGS_RUNTIME, --runtime).`,
      {
        hint: `Available on this build: ${Object.keys(runtimes).join(', ')}.`,
      },
    );
  }
  return factory;
}

/** Every runtime this build offers, by name (creating them is free: factories do no I/O). */
export function offeredRuntimes(): Readonly<Record<string, RuntimeFactory>> {
  return runtimes;
}

/**
 * Runtimes over the same stores must see the same host ids: the stores write files (images,
 * workspace layers) with one mapping, and a runtime that expects another would find them owned
 * by strangers. Compared on sample ids (a mapping is a pair of functions).
 */
export function assertSameIdMapping(
  defaultName: string,
  expected: IdMapping,
  name: string,
  actual: IdMapping,
): void {
  const probes = [0, 1, 1000, 65_534, 65_535];
  const same =
    probes.every((id) => actual.toHost(id) === expected.toHost(id)) &&
    probes.every((id) => actual.toSandbox(expected.toHost(id)) === id);
  if (!same) {
    throw new InvalidInputError(
      `The ${name} runtime maps sandbox ids to host ids differently from the ${defaultName} runtime (root inside is host uid ${actual.toHost(0)}, not ${expected.toHost(0)}).`,
      { hint: 'Runtimes sharing the stores must share one id mapping: fix its settings.' },
    );
  }
}
