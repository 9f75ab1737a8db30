import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flag, jsonText } from './row-values.ts';

test("a boolean column reads the same from SQLite's 0/1 and PostgreSQL's false/true", () => {
  assert.deepEqual([1, true, 0, false, null].map(flag), [true, true, false, false, false]);
});

test('JSON text keeps null and undefined as null', () => {
  assert.deepEqual([null, undefined, { a: 1 }, 'x'].map(jsonText), [null, null, '{"a":1}', '"x"']);
});
