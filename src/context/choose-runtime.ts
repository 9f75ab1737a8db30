import { nativeBinaryPath } from '../config/package-paths.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { ShiftedIdMapping } from '../runtimes/namespace/id-mapping.ts';
import { createNamespaceRuntime } from '../runtimes/namespace/namespace-runtime.ts';
import type { OverlayLayerStores } from '../runtimes/namespace/overlay-layers.ts';
import type { Runtime } from '../runtimes/runtime.ts';

/** What any runtime may be built from: the host's stores, which its layer provider reads. */
export interface RuntimeInputs {
  home: string;
  idMapping: ShiftedIdMapping;
  stores: OverlayLayerStores;
}

/**
 * The runtimes a user can choose with `MAGS_RUNTIME`. One entry per runtime: a microVM or a
 * Kubernetes runtime is one more line here, and nothing above the context names a runtime. (The
 * fake runtime is for tests only: it does not isolate, so it is never offered.)
 */
const runtimes: Record<string, (inputs: RuntimeInputs) => Runtime> = {
  namespace: ({ home, idMapping, stores }) =>
    createNamespaceRuntime({
      home,
      idMapping,
      stores,
      launcherPath: nativeBinaryPath('mags-sandbox'),
      agentPath: nativeBinaryPath('mags-agent'),
    }),
};

export const defaultRuntimeName = 'namespace';

/** The runtime `MAGS_RUNTIME` names (default `namespace`); the factory does no I/O. */
export function chooseRuntime(name: string | undefined, inputs: RuntimeInputs): Runtime {
  const chosen = name === undefined || name === '' ? defaultRuntimeName : name;
  const create = runtimes[chosen];
  if (!create) {
    throw new InvalidInputError(`Unknown runtime ${JSON.stringify(chosen)} in MAGS_RUNTIME.`, {
      hint: `Available on this build: ${Object.keys(runtimes).join(', ')}.`,
    });
  }
  return create(inputs);
}
