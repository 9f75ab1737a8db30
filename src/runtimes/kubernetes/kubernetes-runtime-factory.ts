import type { MagsError } from '../../errors/mags-error.ts';
import { namespaceIdMapping } from '../namespace/id-mapping.ts';
import type { Runtime } from '../runtime.ts';
import type { RuntimeFactory } from '../runtime-factory.ts';
import { createKubernetesRuntime, kubernetesCapabilities } from './kubernetes-runtime.ts';
import { kubernetesSettings } from './kubernetes-settings.ts';

/**
 * `--runtime kubernetes`: pods in a cluster, from `MAGS_K8S_*` and the kubeconfig. Its sandboxes'
 * files never meet this host's ids, but the stores it shares with the local runtimes keep theirs
 * (`MAGS_UID_BASE`), so it reports the same mapping.
 */
export const kubernetesRuntimeFactory: RuntimeFactory = {
  idMapping: namespaceIdMapping,
  create: ({ environment }) => {
    try {
      return createKubernetesRuntime({ settings: kubernetesSettings(environment) });
    } catch (error) {
      // Every runtime is created with the context: a bad MAGS_K8S_* must not break the others,
      // only this one, which says why when it is checked or asked to start.
      return unusableRuntime(error as MagsError);
    }
  },
};

function unusableRuntime(error: MagsError): Runtime {
  return {
    specificationVersion: 'runtime-v2',
    name: 'kubernetes',
    // Nothing to list or attach without settings.
    capabilities: { ...kubernetesCapabilities, reattach: false },
    check: async () => ({ ok: false, problems: [error.message], warnings: [] }),
    start: async () => {
      throw error;
    },
  };
}
