import { MagsError } from '../../errors/mags-error.ts';
import { ObjectNotFoundError, type ObjectStore } from '../../storage/object-store.ts';
import {
  decodeManifest,
  type Manifest,
  manifestKey,
  versionFromKey,
  versionsPrefix,
} from './manifest.ts';

export interface VersionInfo {
  version: number;
  sizeBytes: number;
  committedAt: Date;
}

export async function listVersions(store: ObjectStore, workspace: string): Promise<VersionInfo[]> {
  const versions: VersionInfo[] = [];
  for await (const object of store.list(versionsPrefix(workspace))) {
    const version = versionFromKey(object.key);
    if (version !== undefined)
      versions.push({ version, sizeBytes: object.size, committedAt: object.lastModified });
  }
  return versions.sort((a, b) => a.version - b.version);
}

export async function latestVersion(store: ObjectStore, workspace: string): Promise<number | null> {
  return (await listVersions(store, workspace)).at(-1)?.version ?? null;
}

export async function loadManifest(
  store: ObjectStore,
  workspace: string,
  version: number,
): Promise<Manifest> {
  const key = manifestKey(workspace, version);
  const body = await store.get(key).catch((error: unknown) => {
    if (error instanceof ObjectNotFoundError) {
      throw new MagsError(
        `Workspace ${JSON.stringify(workspace)} has no version ${version} in ${store.location}.`,
        {
          code: 'version_not_found',
          statusCode: 404,
          workspace,
          hint: `List its versions: mags workspace versions ${workspace}`,
        },
      );
    }
    throw error;
  });
  const manifest = decodeManifest(body, key);
  if (manifest.workspace !== workspace || manifest.version !== version) {
    throw new MagsError(
      `The manifest ${key} belongs to ${manifest.workspace}@${manifest.version}: the store is corrupted.`,
      {
        code: 'manifest_corrupted',
      },
    );
  }
  return manifest;
}
