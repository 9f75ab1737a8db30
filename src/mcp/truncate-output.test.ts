import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  OutputCollector,
  omissionMarker,
  truncateOutput,
  withoutCutFirstCharacter,
  withoutCutLastCharacter,
} from './truncate-output.ts';

const encode = (text: string) => new TextEncoder().encode(text);
const limits = { headBytes: 10, tailBytes: 10 };

test('an output within head + tail bytes is returned whole, without a marker', () => {
  const result = truncateOutput(encode('x'.repeat(20)), limits);
  assert.equal(result.text, 'x'.repeat(20));
  assert.equal(result.omittedBytes, 0);
  assert.equal(result.totalBytes, 20);
  assert.deepEqual(truncateOutput(new Uint8Array(0), limits), {
    text: '',
    totalBytes: 0,
    omittedBytes: 0,
  });
});

test('a longer output keeps head and tail and the marker counts the bytes left out', () => {
  const text = `${'a'.repeat(10)}${'m'.repeat(15)}${'z'.repeat(10)}`;
  const result = truncateOutput(encode(text), limits);
  assert.equal(result.omittedBytes, 15);
  assert.equal(result.text, `${'a'.repeat(10)}${omissionMarker(15)}${'z'.repeat(10)}`);
  assert.match(result.text, /15 bytes of output left out/);
});

test('the cut never splits a UTF-8 character: the cut bytes count as left out', () => {
  // "é" is 2 bytes, "€" 3, "😀" 4: put each across the head's and the tail's edges.
  for (const character of ['é', '€', '😀']) {
    const text = `${'a'.repeat(9)}${character}${'m'.repeat(20)}${character}${'z'.repeat(9)}`;
    const bytes = encode(text);
    const result = truncateOutput(bytes, limits);
    assert.ok(!result.text.includes('\uFFFD'), `no replacement character around ${character}`);
    const [head, tail] = result.text.split(omissionMarker(result.omittedBytes));
    assert.equal(head, 'a'.repeat(9), `the head drops the cut ${character}`);
    assert.equal(tail, 'z'.repeat(9), `the tail drops the cut ${character}`);
    assert.equal(result.omittedBytes, bytes.length - 18);
  }
});

test('whole characters at the edges are kept', () => {
  assert.deepEqual(withoutCutLastCharacter(encode('ab€')), encode('ab€'));
  assert.deepEqual(withoutCutLastCharacter(encode('ab€').subarray(0, 4)), encode('ab'));
  assert.deepEqual(withoutCutFirstCharacter(encode('€ab').subarray(1)), encode('ab'));
  assert.deepEqual(withoutCutFirstCharacter(encode('€ab')), encode('€ab'));
});

test('the collector, fed in any chunking, gives the same result as truncating the whole', () => {
  const text = `start ${'é€😀'.repeat(40)} middle ${'x'.repeat(500)} end ${'😀€é'.repeat(30)} done`;
  const bytes = encode(text);
  const expected = truncateOutput(bytes, { headBytes: 64, tailBytes: 64 });
  for (const chunkBytes of [1, 3, 7, 64, 1000]) {
    const collector = new OutputCollector({ headBytes: 64, tailBytes: 64 });
    for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
      collector.add(bytes.subarray(offset, offset + chunkBytes));
    }
    assert.deepEqual(collector.result(), expected, `chunks of ${chunkBytes} bytes`);
  }
  const small = new OutputCollector({ headBytes: 64, tailBytes: 64 });
  small.add(encode('one\n'));
  small.add(encode('two\n'));
  assert.deepEqual(small.result(), { text: 'one\ntwo\n', totalBytes: 8, omittedBytes: 0 });
  assert.equal(small.lastLine(), 'two');
});

test('a cut anywhere in UTF-8 text keeps whole characters only', () => {
  const text = 'aé€😀b';
  const bytes = new TextEncoder().encode(text);
  for (let end = 0; end <= bytes.length; end++) {
    const kept = withoutCutLastCharacter(bytes.subarray(0, end)).length;
    assert.ok(kept <= end, `${end}: kept ${kept}`);
    const decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, kept));
    assert.ok(text.startsWith(decoded), `${end}: ${decoded}`);
    // Nothing whole is dropped: at most the bytes of the one split character.
    assert.ok(end - kept < 4, `${end}: dropped ${end - kept}`);
  }
  assert.equal(withoutCutLastCharacter(bytes).length, bytes.length);
  assert.equal(withoutCutLastCharacter(new Uint8Array([0x61, 0x80, 0x80, 0x80, 0x80])).length, 5);
});
