import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineRangeScanner } from './line-range-scanner.ts';

/** Scans `text` fed in chunks of `chunkBytes`; the result with its bytes decoded. */
function scan(text: string, startLine: number, endLine: number, chunkBytes = 3, keepBytes = 1000) {
  const bytes = new TextEncoder().encode(text);
  const scanner = new LineRangeScanner(startLine, endLine, keepBytes);
  for (let offset = 0; offset < bytes.length && !scanner.done; offset += chunkBytes) {
    scanner.push(bytes.subarray(offset, offset + chunkBytes));
  }
  const result = scanner.result(!scanner.done);
  return { ...result, text: new TextDecoder().decode(result.kept), done: scanner.done };
}

test('a final newline ends the last line and starts none', () => {
  const all = scan('a\nb\nc\n', 1, Number.POSITIVE_INFINITY);
  assert.equal(all.text, 'a\nb\nc');
  assert.equal(all.lastLine, 3);
  assert.equal(all.fileLines, 3);
  const fourth = scan('a\nb\nc\n', 4, 4);
  assert.equal(fourth.lastLine, 3, 'there is no line 4');
  assert.equal(fourth.fileLines, 3);
  assert.equal(scan('a\nb\nc', 1, 10).fileLines, 3);
  assert.equal(scan('', 1, 10).fileLines, 0);
});

test('returns exactly the asked lines, empty lines included, whatever the chunk size', () => {
  const text = 'one\n\nthree\nfour\n\n';
  for (const chunkBytes of [1, 2, 5, 100]) {
    assert.equal(scan(text, 2, 3, chunkBytes).text, '\nthree');
    assert.equal(scan(text, 4, 5, chunkBytes).text, 'four\n');
    assert.equal(scan(text, 3, 3, chunkBytes).text, 'three');
    assert.equal(scan(text, 1, 99, chunkBytes).fileLines, 5);
  }
});

test('stops as soon as the end line is complete and keeps no more than asked', () => {
  const lines = Array.from({ length: 1000 }, (_, index) => `line ${index + 1}`).join('\n');
  const range = scan(lines, 10, 12, 64);
  assert.equal(range.done, true);
  assert.equal(range.text, 'line 10\nline 11\nline 12');
  const kept = scan(lines, 1, 1000, 64, 20);
  assert.equal(kept.kept.length, 20);
});
