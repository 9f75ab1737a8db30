import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MagsError } from '../errors/mags-error.ts';
import { replaceText } from './replace-text.ts';

const decode = (bytes: Uint8Array) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
const edit = (oldString: string, newString: string, replaceAll = false) => ({
  path: '/workspace/f',
  oldString,
  newString,
  replaceAll,
});

test('several matches are refused naming the line of each', () => {
  assert.throws(
    () => replaceText('x\nbeta\ny\nbeta\n', edit('beta', 'B'), 1000),
    (error: MagsError) =>
      error.code === 'several_matches' && /2 times .*at lines 2, 4/.test(error.message),
  );
  const all = replaceText('x\nbeta\ny\nbeta\n', edit('beta', 'B', true), 1000);
  assert.deepEqual(all.lines, [2, 4]);
  assert.equal(decode(all.bytes), 'x\nB\ny\nB\n');
});

test('a replaceAll whose result would pass the limit is refused before it is built', () => {
  const content = 'a'.repeat(10_000);
  assert.throws(
    () => replaceText(content, edit('a', 'é'.repeat(100), true), 100_000),
    (error: MagsError) => error.code === 'too_large' && /2000000 bytes/.test(error.message),
  );
});

test('keeps a byte-order mark and $ patterns in newString literally', () => {
  const result = replaceText('\uFEFFprice: 1\n', edit('1', '$& $1 $$'), 1000);
  assert.deepEqual([...result.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  assert.equal(decode(result.bytes), '\uFEFFprice: $& $1 $$\n');
});

test('oldString with \\n lines matches a \\r\\n file, and newString is written with \\r\\n', () => {
  const result = replaceText('one\r\ntwo\r\nthree\r\n', edit('one\ntwo\n', 'ONE\nTWO\n'), 1000);
  assert.equal(result.convertedToCrlf, true);
  assert.equal(decode(result.bytes), 'ONE\r\nTWO\r\nthree\r\n');
  assert.throws(
    () => replaceText('one\r\ntwo\r\n', edit('one\nthree', 'x'), 1000),
    (error: MagsError) => error.code === 'no_match' && /\\r\\n/.test(error.hint ?? ''),
  );
});
