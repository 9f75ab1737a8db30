/**
 * The small interface workspace sync talks to (`object-store-v1`); vendor SDKs live behind it,
 * in one folder per store. Every implementation passes `runObjectStoreContract`.
 */
import { InvalidInputError, MagsError, type MagsErrorOptions } from '../errors/mags-error.ts';

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export interface ObjectStore {
  readonly specificationVersion: 'object-store-v1';
  readonly name: string;
  /** Where the objects are, for messages (`s3://bucket/prefix`, a directory). */
  readonly location: string;
  /** `put(..., { ifNoneMatch: '*' })` is atomic: of racing writers exactly one wins. */
  readonly supportsConditionalWrite: boolean;
  /** With `ifNoneMatch: '*'`, fails with `PreconditionFailedError` when the key exists. */
  put(key: string, body: Buffer, options?: { ifNoneMatch?: '*' }): Promise<void>;
  /** Throws `ObjectNotFoundError` when missing. */
  get(key: string): Promise<Buffer>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object under `prefix`, sorted by key. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Deletes the keys that exist; missing keys are not an error. */
  delete(keys: string[]): Promise<void>;
}

export class ObjectNotFoundError extends MagsError {
  constructor(key: string, location: string) {
    super(`Object ${key} is missing from ${location}.`, {
      code: 'object_not_found',
      statusCode: 404,
    });
  }
}

export class PreconditionFailedError extends MagsError {
  constructor(key: string) {
    super(`Object ${key} already exists.`, { code: 'precondition_failed', statusCode: 412 });
  }
}

/** The store could not be reached or kept failing after retries. */
export class StoreUnavailableError extends MagsError {
  constructor(message: string, options: Omit<MagsErrorOptions, 'code'> = {}) {
    super(message, { retryable: true, statusCode: 503, ...options, code: 'store_unavailable' });
  }
}

/** Keys are `/`-separated relative paths: no empty segment, no `.`/`..`, no NUL, ≤ 1024 bytes. */
export function validateKey(key: string): string {
  const problem =
    key.length === 0
      ? 'is empty'
      : Buffer.byteLength(key) > 1024
        ? 'is longer than 1024 bytes'
        : key.includes('\0')
          ? 'contains NUL'
          : key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')
            ? 'has an empty, "." or ".." segment'
            : undefined;
  if (problem) throw new InvalidInputError(`Object key ${JSON.stringify(key)} ${problem}.`);
  return key;
}
