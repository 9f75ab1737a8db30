import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnsiSpan } from '../components/ansi-spans.ts';
import { splitSpans } from './use-job-log.ts';

const span = (text: string, classes = ''): AnsiSpan => ({ text, classes });

test('spans are cut into blocks of at most the length, keeping text and looks in order', () => {
  const spans = [span('abcdefg', 'ansi-red'), span('hi'), span('jklmnopqrstu', 'ansi-bold')];
  const blocks = splitSpans(spans, 5);
  for (const block of blocks) {
    assert.ok(block.reduce((total, piece) => total + piece.text.length, 0) <= 5);
  }
  assert.equal(
    blocks
      .flat()
      .map((piece) => piece.text)
      .join(''),
    'abcdefghijklmnopqrstu',
  );
  assert.deepEqual(
    blocks[0]?.map((piece) => piece.classes),
    ['ansi-red'],
  );
  assert.equal(blocks.length, 5);
});

test('a whole log arriving at once is several blocks, so its start can be trimmed', () => {
  const blocks = splitSpans([span('x'.repeat(1000))], 256);
  assert.deepEqual(
    blocks.map((block) => block[0]?.text.length),
    [256, 256, 256, 232],
  );
  assert.deepEqual(splitSpans([], 256), []);
});
