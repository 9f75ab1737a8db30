import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { StoreUnavailableError } from '../object-store.ts';
import { runObjectStoreContract } from '../object-store-contract.ts';
import { createS3ObjectStore } from './s3-object-store.ts';
import { s3TestBucket } from './s3-test-server.ts';

const bucket = await s3TestBucket();
if ('skip' in bucket) process.stdout.write(`# skipping S3 contract: ${bucket.skip}\n`);

runObjectStoreContract('s3 (Ceph RGW)', async () => {
  if ('skip' in bucket) return bucket;
  return { store: createS3ObjectStore(bucket), cleanup: async () => {} };
});

test('an endpoint that refuses connections is StoreUnavailableError after its attempts', async () => {
  const store = createS3ObjectStore({
    bucket: 'b',
    endpoint: 'http://127.0.0.1:9',
    accessKeyId: 'x',
    secretAccessKey: 'y',
    maxAttempts: 2,
  });
  await assert.rejects(store.put('k', Buffer.from('v')), (error: unknown) => {
    assert.ok(error instanceof StoreUnavailableError);
    assert.match(error.message, /unreachable .*127\.0\.0\.1:9/);
    return true;
  });
});

test('503s are retried with backoff, then reported (fake server answering 503, a recorded fault)', async () => {
  let requests = 0;
  const server = createServer((request, response) => {
    requests++;
    request.resume();
    response.writeHead(503, { 'content-type': 'application/xml' });
    response.end(
      '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    const store = createS3ObjectStore({
      bucket: 'b',
      endpoint: `http://127.0.0.1:${port}`,
      accessKeyId: 'x',
      secretAccessKey: 'y',
      maxAttempts: 3,
    });
    await assert.rejects(store.put('k', Buffer.from('v')), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(error.message, /HTTP 503/);
      return true;
    });
    assert.equal(requests, 3);
  } finally {
    server.close();
  }
});
