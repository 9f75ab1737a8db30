import { join } from 'node:path';
import { createFilesystemObjectStore } from './filesystem/filesystem-object-store.ts';
import type { ObjectStore } from './object-store.ts';
import { createS3ObjectStore, s3OptionsFromEnvironment } from './s3/s3-object-store.ts';

/**
 * S3 when `MAGS_S3_BUCKET` is set, else the embedded filesystem store: `MAGS_STORE_DIR`
 * (a shared mount, for several hosts) or `${home}/store`.
 */
export function createObjectStore(
  home: string,
  environment: NodeJS.ProcessEnv = process.env,
): ObjectStore {
  const s3 = s3OptionsFromEnvironment(environment);
  return s3
    ? createS3ObjectStore(s3)
    : createFilesystemObjectStore({ root: environment.MAGS_STORE_DIR ?? join(home, 'store') });
}
