import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { uniqueSuffix } from '../../config/unique-suffix.ts';
import {
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
  PreconditionFailedError,
  StoreUnavailableError,
  validateKey,
} from '../object-store.ts';

/**
 * Objects as files under a directory: the embedded default. Writes go to a temporary file that
 * is fsynced and then renamed (or, for conditional writes, hard-linked: link(2) fails with EEXIST
 * atomically), so a crash never leaves a torn object under its key.
 */
/** A full, read-only or forbidden store is the store's problem, said in words, not a raw errno. */
function translateWriteError(error: unknown, key: string, root: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOSPC: 'is full',
    EDQUOT: 'is over its quota',
    EROFS: 'is read-only',
    EACCES: 'is not writable',
  };
  const reason = code ? reasons[code] : undefined;
  if (!reason) return error;
  return new StoreUnavailableError(`The object store ${root} ${reason} (writing ${key}).`, {
    retryable: code === 'ENOSPC' || code === 'EDQUOT',
    hint: 'Free space (mags workspace gc deletes unused chunks) and sync again; nothing local was changed.',
    cause: error,
  });
}

export function createFilesystemObjectStore(options: { root: string }): ObjectStore {
  const root = options.root;
  const pathOf = (key: string) => join(root, ...validateKey(key).split('/'));
  return {
    specificationVersion: 'object-store-v1',
    name: 'filesystem',
    location: root,
    supportsConditionalWrite: true,

    async put(key, body, putOptions) {
      const path = pathOf(key);
      const temporary = `${path}.tmp-${uniqueSuffix()}`;
      try {
        await mkdir(dirname(path), { recursive: true });
        const handle = await open(temporary, 'wx');
        try {
          await handle.writeFile(body);
          await handle.sync();
        } finally {
          await handle.close();
        }
        if (putOptions?.ifNoneMatch === '*') {
          await link(temporary, path).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'EEXIST') throw new PreconditionFailedError(key);
            throw error;
          });
          await unlink(temporary);
        } else {
          await rename(temporary, path);
        }
        // The new directory entry must survive a crash too.
        const directory = await open(dirname(path), 'r');
        await directory.sync().finally(() => directory.close());
      } catch (error) {
        await unlink(temporary).catch(() => {});
        throw translateWriteError(error, key, root);
      }
    },

    async get(key) {
      return readFile(pathOf(key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR')
          throw new ObjectNotFoundError(key, root);
        throw error;
      });
    },

    async head(key) {
      const stats = await stat(pathOf(key)).catch(() => undefined);
      return stats?.isFile() ? { key, size: stats.size, lastModified: stats.mtime } : undefined;
    },

    async *list(prefix) {
      const results: ObjectInfo[] = [];
      const start = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const walk = async (directory: string): Promise<void> => {
        const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
        for (const entry of entries) {
          const path = join(directory, entry.name);
          if (entry.isDirectory()) await walk(path);
          else if (entry.isFile() && !entry.name.includes('.tmp-')) {
            const key = relative(root, path).split(sep).join('/');
            if (!key.startsWith(prefix)) continue;
            const stats = await stat(path);
            results.push({ key, size: stats.size, lastModified: stats.mtime });
          }
        }
      };
      await walk(start ? join(root, ...start.split('/')) : root);
      results.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      yield* results;
    },

    async delete(keys) {
      for (const key of keys) await unlink(pathOf(key)).catch(() => {});
    },
  };
}
