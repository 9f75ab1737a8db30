import { nativeBinaryPath } from '../../config/package-paths.ts';
import type { RuntimeFactory } from '../runtime-factory.ts';
import { namespaceIdMapping } from './id-mapping.ts';
import { createNamespaceRuntime } from './namespace-runtime.ts';

/**
 * `MAGS_RUNTIME=namespace` (the default): its settings from the environment (`MAGS_UID_BASE`),
 * its launcher and agent from this package's build (`MAGS_NATIVE_DIR` overrides).
 */
export const namespaceRuntimeFactory: RuntimeFactory = {
  idMapping: namespaceIdMapping,
  create: ({ home, environment, stores }) =>
    createNamespaceRuntime({
      home,
      idMapping: namespaceIdMapping(environment),
      stores,
      launcherPath: nativeBinaryPath('mags-sandbox'),
      agentPath: nativeBinaryPath('mags-agent'),
    }),
};
