import type { IdMapping } from '../../config/id-mapping.ts';
import { MagsError } from '../../errors/mags-error.ts';
import { namespaceIdMapping } from '../namespace/id-mapping.ts';
import type { Runtime } from '../runtime.ts';
import type { HostStores, RuntimeFactory } from '../runtime-factory.ts';
import { kubernetesCapabilities } from './kubernetes-capabilities.ts';
import { type KubernetesSettings, kubernetesSettings } from './kubernetes-settings.ts';

/**
 * `--runtime kubernetes`: pods in a cluster, from `MAGS_K8S_*` and the kubeconfig. The stores it
 * shares with the local runtimes keep their host ids (`MAGS_UID_BASE`): it reports the same
 * mapping, and maps owners back to sandbox ids when it copies a workspace into a pod.
 */
export const kubernetesRuntimeFactory: RuntimeFactory = {
  idMapping: namespaceIdMapping,
  create: ({ environment, stores }) => {
    try {
      return lazyKubernetesRuntime({
        settings: kubernetesSettings(environment),
        stores,
        idMapping: namespaceIdMapping(environment),
      });
    } catch (error) {
      // Every runtime is created with the context: a bad MAGS_K8S_* must not break the others,
      // only this one, which says why when it is checked or asked to start.
      return unusableRuntime(error as MagsError);
    }
  },
};

/**
 * The runtime, with the Kubernetes client loaded at its first use: importing
 * `@kubernetes/client-node` takes over a second here, which no `mags` command or server start
 * that never uses a cluster should pay. A server start lists every reattachable runtime's
 * sandboxes: without an image set, there is no cluster to ask, and nothing is loaded.
 */
function lazyKubernetesRuntime(options: {
  settings: KubernetesSettings;
  stores: HostStores;
  idMapping: IdMapping;
}): Runtime {
  const { settings } = options;
  let loaded: Promise<Runtime> | undefined;
  const runtime = () => {
    loaded ??= import('./kubernetes-runtime.ts').then(({ createKubernetesRuntime }) =>
      createKubernetesRuntime(options),
    );
    return loaded;
  };
  return {
    specificationVersion: 'runtime-v2',
    name: 'kubernetes',
    capabilities: kubernetesCapabilities,
    check: async () => (await runtime()).check(),
    start: async (spec) => (await runtime()).start(spec),
    list: async () => (settings.image ? ((await (await runtime()).list?.()) ?? []) : []),
    sweep: async () => (settings.image ? ((await (await runtime()).sweep?.()) ?? 0) : 0),
    attach: async (id) => {
      const attach = (await runtime()).attach;
      if (!attach) {
        throw new MagsError('The kubernetes runtime cannot attach sandboxes.', {
          code: 'internal',
        });
      }
      return attach(id);
    },
  };
}

function unusableRuntime(error: MagsError): Runtime {
  return {
    specificationVersion: 'runtime-v2',
    name: 'kubernetes',
    // Nothing to list or attach without settings.
    capabilities: { ...kubernetesCapabilities, reattach: false, sweep: false },
    check: async () => ({ ok: false, problems: [error.message], warnings: [] }),
    start: async () => {
      throw error;
    },
  };
}
