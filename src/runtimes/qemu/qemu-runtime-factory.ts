import { nativeBinaryPath } from '../../config/package-paths.ts';
import { namespaceIdMapping } from '../namespace/id-mapping.ts';
import type { RuntimeFactory } from '../runtime-factory.ts';
import { createQemuRuntime } from './qemu-runtime.ts';

/**
 * `--runtime qemu`: microVMs on the namespace runtime's launcher, so the same id mapping
 * (`MAGS_UID_BASE`) and stores; `MAGS_QEMU_ACCEL` and `MAGS_QEMU_PATH` are its own settings.
 */
export const qemuRuntimeFactory: RuntimeFactory = {
  idMapping: namespaceIdMapping,
  create: ({ home, environment, stores }) =>
    createQemuRuntime({
      home,
      idMapping: namespaceIdMapping(environment),
      stores,
      environment,
      launcherPath: nativeBinaryPath('mags-sandbox'),
      agentPath: nativeBinaryPath('mags-agent'),
      initPath: nativeBinaryPath('mags-vm-init'),
      ...(environment.MAGS_QEMU_PATH ? { qemuPath: environment.MAGS_QEMU_PATH } : {}),
    }),
};
