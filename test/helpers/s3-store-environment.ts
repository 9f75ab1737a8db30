import { s3TestBucket } from '../../src/storage/s3/s3-test-server.ts';

/**
 * The environment that points the CLI at the test S3 server's bucket (Ceph RGW), or why it
 * cannot: the same variables a user sets.
 */
export async function s3StoreEnvironment(): Promise<Record<string, string> | { skip: string }> {
  const bucket = await s3TestBucket();
  if ('skip' in bucket) return bucket;
  return {
    MAGS_S3_BUCKET: bucket.bucket,
    MAGS_S3_ENDPOINT: bucket.endpoint ?? '',
    MAGS_S3_ACCESS_KEY_ID: bucket.accessKeyId ?? '',
    MAGS_S3_SECRET_ACCESS_KEY: bucket.secretAccessKey ?? '',
  };
}
