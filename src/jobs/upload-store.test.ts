import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { InvalidInputError, NotFoundError, QuotaExceededError } from '../errors/mags-error.ts';
import { UploadStore } from './upload-store.ts';

let directory: string;
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mags-uploads-'));
});
after(() => rm(directory, { recursive: true, force: true }));

/** A body in chunks, like a streamed request (no length known in advance). */
const body = (...chunks: string[]) => Readable.from(chunks.map((chunk) => Buffer.from(chunk)));

/** A store of its own per test: its own directory, its own limits. */
async function store(options: Partial<ConstructorParameters<typeof UploadStore>[0]> = {}) {
  const root = await mkdtemp(join(directory, 'store-'));
  return { root, uploads: new UploadStore({ directory: root, ...options }) };
}

test('an upload is stored as it streams, resolved by its id, and removed once taken', async () => {
  const { root, uploads } = await store();
  const upload = await uploads.receive('alice', body('hello ', 'world'));
  assert.match(upload.id, /^upl_[A-Za-z0-9_-]{16}$/);
  assert.equal(upload.sizeBytes, 11);
  const [path] = await uploads.resolve('alice', [upload.id]);
  assert.equal(await readFile(path as string, 'utf8'), 'hello world');
  await uploads.remove('alice', [upload.id]);
  assert.deepEqual(await readdir(join(root, 'alice')), []);
  await assert.rejects(uploads.resolve('alice', [upload.id]), NotFoundError);
});

test("one owner's upload is not another's", async () => {
  const { uploads } = await store();
  const upload = await uploads.receive('alice', body('secret'));
  await assert.rejects(uploads.resolve('bob', [upload.id]), (error: unknown) => {
    assert.ok(error instanceof NotFoundError);
    assert.equal(error.code, 'upload_not_found');
    return true;
  });
});

test('an upload over the file limit is refused, declared or streamed, and nothing stays', async () => {
  const { root, uploads } = await store({ maxFileBytes: 10 });
  const tooLarge = (error: unknown) => {
    assert.ok(error instanceof InvalidInputError);
    assert.equal(error.code, 'too_large');
    assert.equal(error.statusCode, 413);
    return true;
  };
  await assert.rejects(uploads.receive('alice', body('12345678901'), 11), tooLarge);
  // No declared length: counted as it arrives, refused at the chunk that crosses the limit.
  await assert.rejects(uploads.receive('alice', body('123456', '78901')), tooLarge);
  assert.deepEqual(await readdir(join(root, 'alice')), []);
  const exact = await uploads.receive('alice', body('1234567890'));
  assert.equal(exact.sizeBytes, 10);
});

test('an owner may have so many uploads waiting, and so many bytes', async () => {
  const { root, uploads } = await store({ maxFilesPerOwner: 2, maxBytesPerOwner: 15 });
  const quota = (error: unknown) => {
    assert.ok(error instanceof QuotaExceededError);
    assert.equal(error.code, 'upload_quota');
    return true;
  };
  const first = await uploads.receive('alice', body('1234567890'));
  // 10 + 10 bytes is over 15: refused while it streams, and nothing of it stays.
  await assert.rejects(uploads.receive('alice', body('12345', '67890')), quota);
  assert.deepEqual(await readdir(join(root, 'alice')), [first.id]);
  await uploads.receive('alice', body('12345'));
  await assert.rejects(uploads.receive('alice', body('1')), quota); // a third file
  // Another owner has limits of its own.
  await uploads.receive('bob', body('1234567890'));
  // Taking one makes room again.
  await uploads.remove('alice', [first.id]);
  await uploads.receive('alice', body('1'));
});

test('an upload no run took within its time is removed, and counts no more', async () => {
  const { root, uploads } = await store({ maxAgeMs: 60_000, maxFilesPerOwner: 1 });
  const stale = await uploads.receive('alice', body('old'));
  const hourAgo = new Date(Date.now() - 3_600_000);
  await utimes(join(root, 'alice', stale.id), hourAgo, hourAgo);
  // The next upload sweeps it: the owner's one slot is free again.
  const fresh = await uploads.receive('alice', body('new'));
  assert.deepEqual(await readdir(join(root, 'alice')), [fresh.id]);
  await assert.rejects(uploads.resolve('alice', [stale.id]), NotFoundError);
});

test('an id that is not an upload id names no file, not even outside the store', async () => {
  const { uploads } = await store();
  await uploads.receive('alice', body('mine'));
  for (const id of ['../bob/upl_x', 'upl_../../x', '', 'state.db', 'upl_a/b', '.']) {
    await assert.rejects(uploads.resolve('alice', [id]), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError, id);
      assert.equal(error.code, 'invalid_upload');
      return true;
    });
    await assert.rejects(uploads.remove('alice', [id]), InvalidInputError);
  }
});
