import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3ObjectStoreOptions } from './s3-object-store.ts';

/**
 * The real S3 server the tests use (scripts/ceph-rgw.sh: Ceph's RADOS Gateway), with a fresh
 * bucket per call; or the reason the S3 tests must skip.
 */
export async function s3TestBucket(): Promise<S3ObjectStoreOptions | { skip: string }> {
  // MAGS_TEST_S3_* point at any S3 server; without them, the one scripts/ceph-rgw.sh starts.
  const endpoint = process.env.MAGS_TEST_S3_ENDPOINT ?? 'http://127.0.0.1:7480';
  const answering = await fetch(endpoint, { signal: AbortSignal.timeout(2000) }).then(
    () => true,
    () => false,
  );
  if (!answering) {
    return {
      skip: `no S3 test server at ${endpoint}: run scripts/ceph-rgw.sh install && scripts/ceph-rgw.sh start`,
    };
  }
  const options = {
    endpoint,
    region: 'us-east-1',
    accessKeyId: process.env.MAGS_TEST_S3_ACCESS_KEY_ID ?? 'magstest',
    secretAccessKey: process.env.MAGS_TEST_S3_SECRET_ACCESS_KEY ?? 'magstestsecret',
    forcePathStyle: true,
    bucket: `mags-test-${randomBytes(4).toString('hex')}`,
  };
  const client = new S3Client({
    endpoint,
    region: options.region,
    forcePathStyle: true,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: options.bucket }));
  client.destroy();
  return options;
}
