import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
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

test('an upload is stored as it streams, claimed by its id, and removed once taken', async () => {
  const { root, uploads } = await store();
  const upload = await uploads.receive('alice', body('hello ', 'world'));
  assert.match(upload.id, /^upl_[A-Za-z0-9_-]{16}$/);
  assert.equal(upload.sizeBytes, 11);
  const claimed = await uploads.claim('alice', [upload.id], 'job_1');
  assert.equal(await readFile(claimed[0]?.path as string, 'utf8'), 'hello world');
  await uploads.release(claimed);
  assert.deepEqual(await readdir(join(root, 'alice', 'claimed')), []);
  await assert.rejects(uploads.claim('alice', [upload.id], 'job_2'), NotFoundError);
});

test('an upload serves one job: a second job naming it is refused, and a failed claim takes nothing', async () => {
  const { root, uploads } = await store();
  const shared = await uploads.receive('alice', body('shared'));
  const other = await uploads.receive('alice', body('other'));
  const [first, second] = await Promise.allSettled([
    uploads.claim('alice', [shared.id], 'job_1'),
    uploads.claim('alice', [other.id, shared.id], 'job_2'),
  ]);
  assert.equal(first.status, 'fulfilled');
  assert.equal(second.status, 'rejected');
  assert.ok(second.status === 'rejected' && second.reason instanceof NotFoundError);
  // The second claim gave back what it had taken: `other` waits for a job again.
  assert.deepEqual(await readdir(join(root, 'alice')), ['claimed', other.id].sort());
  const [claimed] = first.status === 'fulfilled' ? first.value : [];
  assert.equal(await readFile(claimed?.path as string, 'utf8'), 'shared');
  await uploads.claim('alice', [other.id], 'job_3');
});

test("one owner's upload is not another's", async () => {
  const { uploads } = await store();
  const upload = await uploads.receive('alice', body('secret'));
  await assert.rejects(uploads.claim('bob', [upload.id], 'job_1'), (error: unknown) => {
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

/** A body that yields to the event loop between chunks, so parallel uploads interleave. */
async function* slowBody(chunks: number, bytes: number): AsyncGenerator<Buffer> {
  for (let index = 0; index < chunks; index++) {
    await new Promise((resolve) => setImmediate(resolve));
    yield Buffer.alloc(bytes, 'x');
  }
}

test('parallel uploads cannot together go over the owner quota, in bytes or in files', async () => {
  const { root, uploads } = await store({ maxFilesPerOwner: 3, maxBytesPerOwner: 1000 });
  // Five uploads of 300 bytes streaming at once: each alone fits, three together do not.
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, () => uploads.receive('alice', slowBody(3, 100))),
  );
  const stored = results.filter((result) => result.status === 'fulfilled');
  const refused = results.filter((result) => result.status === 'rejected');
  assert.ok(stored.length <= 3, `${stored.length} stored`);
  assert.ok(refused.length >= 2);
  for (const result of refused) {
    assert.ok(result.status === 'rejected' && result.reason instanceof QuotaExceededError);
  }
  const onDisk = (await readdir(join(root, 'alice'))).filter((name) => name.startsWith('upl_'));
  assert.equal(onDisk.length, stored.length, 'nothing of a refused upload stays');
  assert.ok(stored.length * 300 <= 1000);

  // Files: with the byte quota out of the way, exactly the three allowed get a slot.
  const files = await store({ maxFilesPerOwner: 3 });
  const many = await Promise.allSettled(
    Array.from({ length: 6 }, () => files.uploads.receive('bob', slowBody(2, 10))),
  );
  assert.equal(many.filter((result) => result.status === 'fulfilled').length, 3);
  assert.equal((await readdir(join(files.root, 'bob'))).length, 3);
});

test('an upload no run took within its time is removed, and counts no more', async () => {
  const { root, uploads } = await store({ maxAgeMs: 60_000, maxFilesPerOwner: 1 });
  const stale = await uploads.receive('alice', body('old'));
  const hourAgo = new Date(Date.now() - 3_600_000);
  await utimes(join(root, 'alice', stale.id), hourAgo, hourAgo);
  // The next upload sweeps it: the owner's one slot is free again.
  const fresh = await uploads.receive('alice', body('new'));
  assert.deepEqual(await readdir(join(root, 'alice')), [fresh.id]);
  await assert.rejects(uploads.claim('alice', [stale.id], 'job_1'), NotFoundError);
});

test('an id that is not an upload id names no file, not even outside the store', async () => {
  const { uploads } = await store();
  await uploads.receive('alice', body('mine'));
  for (const id of ['../bob/upl_x', 'upl_../../x', '', 'state.db', 'upl_a/b', '.']) {
    await assert.rejects(uploads.claim('alice', [id], 'job_1'), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError, id);
      assert.equal(error.code, 'invalid_upload');
      return true;
    });
    await assert.rejects(uploads.remove('alice', [id]), InvalidInputError);
  }
});

test('a host file staged in place is hard-linked, not copied; the job removes the link only', async () => {
  const { root, uploads } = await store({ maxFileBytes: 10 });
  const file = join(root, 'notes.txt');
  await writeFile(file, 'my notes');
  const staged = await uploads.stageLocal('alice', file);
  assert.equal(staged.sizeBytes, 8);
  const [claimed] = await uploads.claim('alice', [staged.id], 'job_1');
  assert.ok(claimed);
  assert.notEqual(claimed.path, file);
  assert.equal((await stat(claimed.path)).ino, (await stat(file)).ino, 'the same file, linked');
  await assert.rejects(uploads.claim('alice', [staged.id], 'job_2'), NotFoundError);
  await uploads.release([claimed]);
  assert.equal(existsSync(claimed.path), false);
  assert.equal(await readFile(file, 'utf8'), 'my notes', "the user's file stays");
  // The per-file limit and regular files only, as for an upload.
  await writeFile(file, '12345678901');
  await assert.rejects(uploads.stageLocal('alice', file), { code: 'too_large' });
  await mkdir(join(root, 'folder'));
  await assert.rejects(uploads.stageLocal('alice', join(root, 'folder')), { code: 'not_a_file' });
});

test('a host file on another filesystem is used where it is, and never removed', async (t) => {
  const { root, uploads } = await store();
  const elsewhere = '/dev/shm';
  if (!existsSync(elsewhere) || (await stat(elsewhere)).dev === (await stat(root)).dev) {
    t.skip('no second filesystem (/dev/shm) beside the temporary directory');
    return;
  }
  const file = join(await mkdtemp(join(elsewhere, 'mags-upload-')), 'data.bin');
  try {
    await writeFile(file, 'data');
    const staged = await uploads.stageLocal('alice', file);
    const [claimed] = await uploads.claim('alice', [staged.id], 'job_1');
    assert.deepEqual(claimed, { id: staged.id, path: file, sizeBytes: 4, removable: false });
    await uploads.release(claimed ? [claimed] : []);
    assert.equal(await readFile(file, 'utf8'), 'data');
  } finally {
    await rm(join(file, '..'), { recursive: true, force: true });
  }
});
