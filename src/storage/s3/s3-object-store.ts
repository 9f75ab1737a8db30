import type { S3Client } from '@aws-sdk/client-s3';
import { InvalidInputError, MagsError } from '../../errors/mags-error.ts';
import {
  ObjectNotFoundError,
  type ObjectStore,
  PreconditionFailedError,
  StoreUnavailableError,
  validateKey,
} from '../object-store.ts';

export interface S3ObjectStoreOptions {
  bucket: string;
  region?: string;
  /** Any S3-compatible endpoint: Ceph RGW, MinIO, R2. Omit for AWS. */
  endpoint?: string;
  /** Keys are stored under this prefix (`team-a/` lets stores share a bucket). */
  prefix?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most self-hosted servers need. */
  forcePathStyle?: boolean;
  /** Attempts per request, with the SDK's exponential backoff between them. */
  maxAttempts?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** Reads `MAGS_S3_*` (and the standard `AWS_*` credentials); undefined when no bucket is set. */
export function s3OptionsFromEnvironment(
  environment: NodeJS.ProcessEnv = process.env,
): S3ObjectStoreOptions | undefined {
  const bucket = environment.MAGS_S3_BUCKET;
  if (!bucket) return undefined;
  return {
    bucket,
    region: environment.MAGS_S3_REGION ?? environment.AWS_REGION ?? 'us-east-1',
    endpoint: environment.MAGS_S3_ENDPOINT,
    prefix: environment.MAGS_S3_PREFIX,
    accessKeyId: environment.MAGS_S3_ACCESS_KEY_ID ?? environment.AWS_ACCESS_KEY_ID,
    secretAccessKey: environment.MAGS_S3_SECRET_ACCESS_KEY ?? environment.AWS_SECRET_ACCESS_KEY,
    forcePathStyle: environment.MAGS_S3_FORCE_PATH_STYLE
      ? environment.MAGS_S3_FORCE_PATH_STYLE !== 'false'
      : Boolean(environment.MAGS_S3_ENDPOINT),
  };
}

/**
 * An S3 store on `@aws-sdk/client-s3`. The factory does no I/O; the SDK is loaded and the client
 * made on first use (loading the SDK costs more than a whole local sandbox run).
 */
export function createS3ObjectStore(options: S3ObjectStoreOptions): ObjectStore {
  if (!options.bucket) throw new InvalidInputError('An S3 store needs a bucket (MAGS_S3_BUCKET).');
  const prefix = options.prefix ? `${options.prefix.replace(/\/+$/, '')}/` : '';
  const location = `s3://${options.bucket}/${prefix}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
  let client: Promise<S3Client> | undefined;
  const s3 = () => {
    client ??= makeClient();
    return client;
  };
  const makeClient = async () => {
    const [{ S3Client }, { NodeHttpHandler }] = await Promise.all([
      import('@aws-sdk/client-s3'),
      import('@smithy/node-http-handler'),
    ]);
    return new S3Client({
      region: options.region ?? 'us-east-1',
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
      maxAttempts: options.maxAttempts ?? 5,
      retryMode: 'standard',
      credentials:
        options.accessKeyId && options.secretAccessKey
          ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
          : undefined,
      // A dead endpoint must fail in seconds, not after the OS's TCP timeout.
      requestHandler: new NodeHttpHandler({
        connectionTimeout: options.connectionTimeoutMs ?? 3000,
        requestTimeout: options.requestTimeoutMs ?? 60_000,
      }),
    });
  };
  const sdk = () => import('@aws-sdk/client-s3');
  const fullKey = (key: string) => `${prefix}${validateKey(key)}`;

  async function call<T>(what: string, key: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw translate(error, what, key, location);
    }
  }

  return {
    specificationVersion: 'object-store-v1',
    name: 's3',
    location,
    supportsConditionalWrite: true,

    put: (key, body, putOptions) =>
      call('put', key, async () => {
        await (await s3()).send(
          new (await sdk()).PutObjectCommand({
            Bucket: options.bucket,
            Key: fullKey(key),
            Body: body,
            ContentLength: body.length,
            IfNoneMatch: putOptions?.ifNoneMatch,
          }),
        );
      }),

    get: (key) =>
      call('get', key, async () => {
        const response = await (await s3()).send(
          new (await sdk()).GetObjectCommand({ Bucket: options.bucket, Key: fullKey(key) }),
        );
        return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
      }),

    head: (key) =>
      call('head', key, async () => {
        try {
          const response = await (await s3()).send(
            new (await sdk()).HeadObjectCommand({ Bucket: options.bucket, Key: fullKey(key) }),
          );
          return {
            key,
            size: response.ContentLength ?? 0,
            lastModified: response.LastModified ?? new Date(0),
          };
        } catch (error) {
          if (httpStatus(error) === 404) return undefined;
          throw error;
        }
      }),

    async *list(listPrefix) {
      let token: string | undefined;
      do {
        const page = await call('list', listPrefix || '(all)', async () =>
          (await s3()).send(
            new (await sdk()).ListObjectsV2Command({
              Bucket: options.bucket,
              Prefix: `${prefix}${listPrefix}`,
              ContinuationToken: token,
            }),
          ),
        );
        for (const object of page.Contents ?? []) {
          if (!object.Key) continue;
          yield {
            key: object.Key.slice(prefix.length),
            size: object.Size ?? 0,
            lastModified: object.LastModified ?? new Date(0),
          };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },

    async delete(keys) {
      // DeleteObjects takes at most 1000 keys a request (S3 API reference).
      for (let index = 0; index < keys.length; index += 1000) {
        const batch = keys.slice(index, index + 1000);
        await call('delete', batch[0] ?? '', async () =>
          (await s3()).send(
            new (await sdk()).DeleteObjectsCommand({
              Bucket: options.bucket,
              Delete: { Objects: batch.map((key) => ({ Key: fullKey(key) })), Quiet: true },
            }),
          ),
        );
      }
    },
  };
}

function translate(error: unknown, what: string, key: string, location: string): Error {
  if (error instanceof MagsError) return error; // ours already (an invalid key)
  const status = httpStatus(error);
  if (status !== undefined && error instanceof Error) {
    if (status === 404 || error.name === 'NoSuchKey') return new ObjectNotFoundError(key, location);
    // RGW and AWS answer a failed If-None-Match with 412 (or 409 while a racing write is in flight).
    if (status === 412 || (status === 409 && error.name === 'ConditionalRequestConflict'))
      return new PreconditionFailedError(key);
    if (status === 403 || status === 401) {
      return new StoreUnavailableError(
        `Access denied to ${location} (${what} ${key}): ${error.message}`,
        {
          retryable: false,
          hint: 'Check MAGS_S3_ACCESS_KEY_ID / MAGS_S3_SECRET_ACCESS_KEY and the bucket policy.',
          cause: error,
        },
      );
    }
    return new StoreUnavailableError(
      `Object storage ${location} failed (${what} ${key}): HTTP ${status} ${error.name}`,
      {
        hint: 'The request was retried with backoff; check that the endpoint is healthy, then run mags sync again.',
        cause: error,
      },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(
    `Object storage ${location} is unreachable (${what} ${key}): ${message}`,
    {
      hint: 'Check MAGS_S3_ENDPOINT and the network; nothing local was changed, so mags sync can be run again.',
      cause: error,
    },
  );
}

/** The HTTP status of an SDK service error (duck-typed: the SDK module is loaded lazily). */
function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
}
