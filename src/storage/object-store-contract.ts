/**
 * The contract every ObjectStore passes (one suite, many implementations): a store's test file
 * calls `runObjectStoreContract` with a factory that returns a fresh, empty store.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { InvalidInputError } from '../errors/mags-error.ts';
import { type ContractSkip, namedSkips } from '../testing/contract-skips.ts';
import { ObjectNotFoundError, type ObjectStore, PreconditionFailedError } from './object-store.ts';

export type ObjectStoreFactory = () => Promise<
  { store: ObjectStore; cleanup: () => Promise<void> } | { skip: string }
>;

async function collectKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  return keys;
}

async function inBatches<T>(
  items: T[],
  size: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  for (let index = 0; index < items.length; index += size)
    await Promise.all(items.slice(index, index + size).map(run));
}

export function runObjectStoreContract(
  name: string,
  factory: ObjectStoreFactory,
  options: {
    /** Tests this store cannot pass, by title, with the reason (e.g. no conditional writes). */
    skip?: ContractSkip[];
  } = {},
): void {
  describe(`object store contract: ${name}`, () => {
    let store: ObjectStore;
    let cleanup: (() => Promise<void>) | undefined;
    let skipReason: string | undefined;
    before(async () => {
      const created = await factory();
      if ('skip' in created) skipReason = created.skip;
      else ({ store, cleanup } = created);
    });
    after(async () => cleanup?.());
    const skips = namedSkips(options.skip);
    const it = (title: string, body: () => Promise<void>) =>
      test(title, { skip: skips.reasonFor(title) ?? false }, async (t) => {
        if (skipReason) return t.skip(skipReason);
        await body();
      });

    it('declares object-store-v1', async () => {
      assert.equal(store.specificationVersion, 'object-store-v1');
    });

    it('round-trips empty, binary and 5 MB objects', async () => {
      for (const [key, body] of [
        ['a/empty', Buffer.alloc(0)],
        ['a/binary', Buffer.from(Array.from({ length: 256 }, (_, index) => index))],
        ['a/large', randomBytes(5 * 1024 * 1024)],
      ] as const) {
        await store.put(key, body);
        assert.deepEqual(await store.get(key), body, key);
        assert.equal((await store.head(key))?.size, body.length);
      }
    });

    it('a missing object is ObjectNotFoundError on get and undefined on head', async () => {
      await assert.rejects(store.get('missing/key'), ObjectNotFoundError);
      assert.equal(await store.head('missing/key'), undefined);
    });

    it('lists by prefix, sorted, across pages (> 1000 keys)', async () => {
      const keys = Array.from(
        { length: 1100 },
        (_, index) => `many/${String(index).padStart(5, '0')}`,
      );
      await inBatches(keys, 50, (key) => store.put(key, Buffer.from(key)));
      await store.put('manyother/x', Buffer.from('x'));
      assert.deepEqual(await collectKeys(store, 'many/'), keys);
      await store.delete(keys);
      assert.deepEqual(await collectKeys(store, 'many/'), []);
      assert.deepEqual(await collectKeys(store, 'manyother/'), ['manyother/x']);
    });

    it('delete ignores missing keys', async () => {
      await store.put('d/one', Buffer.from('1'));
      await store.delete(['d/one', 'd/never-existed']);
      assert.equal(await store.head('d/one'), undefined);
    });

    it('a conditional put fails when the key exists, and exactly one of ten racers wins', async () => {
      // A store without conditional writes lists this test as skipped, with the reason.
      assert.equal(store.supportsConditionalWrite, true);
      await store.put('c/first', Buffer.from('one'), { ifNoneMatch: '*' });
      await assert.rejects(
        store.put('c/first', Buffer.from('two'), { ifNoneMatch: '*' }),
        PreconditionFailedError,
      );
      assert.equal((await store.get('c/first')).toString(), 'one');
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, index) =>
          store.put('c/race', Buffer.from(`writer ${index}`), { ifNoneMatch: '*' }),
        ),
      );
      const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      assert.equal(winners.length, 1);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected')
          assert.ok(outcome.reason instanceof PreconditionFailedError, String(outcome.reason));
      }
      assert.match((await store.get('c/race')).toString(), /^writer \d$/);
    });

    it('rejects keys that could escape or alias', async () => {
      for (const key of ['../x', 'a//b', '/a', 'a/./b', '', 'a\0b']) {
        await assert.rejects(
          store.put(key, Buffer.from('x')),
          InvalidInputError,
          JSON.stringify(key),
        );
      }
    });

    skips.registerCheck();
  });
}
