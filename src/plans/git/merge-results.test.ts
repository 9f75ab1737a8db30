import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApprovedResult } from '../plan-parts.ts';
import { conflictError } from './merge-results.ts';

const results: ApprovedResult[] = [
  { key: 'a', ticket: 'tkt_a', commit: 'a'.repeat(40) },
  { key: 'b', ticket: 'tkt_b', commit: 'b'.repeat(40) },
  { key: 'c', ticket: 'tkt_c', commit: 'c'.repeat(40) },
];
const tree = 'f'.repeat(40);

test("a conflicting file named like the script's marker does not change which result conflicted", () => {
  // The script prints its marker first; the paths after it are the agents' own names.
  const output = `mags-merge-conflict 2\n${tree}\0mags-merge-conflict 0\n\0shared.txt\0`;
  const error = conflictError(results, output);
  assert.match(error.message, /^Merging ticket c \(tkt_c\) onto a, b:/);
  assert.deepEqual(error.files, ['mags-merge-conflict 0\n', 'shared.txt']);
});

test('output without a readable index names no ticket (no NaN, no undefined)', () => {
  for (const output of ['', 'mags-merge-conflict x\n', 'mags-merge-conflict 9\nT\0p\0', 'junk']) {
    const error = conflictError(results, output);
    assert.match(error.message, /^Merging the results: the results conflict in/, output);
    assert.doesNotMatch(error.message, /NaN|undefined/);
  }
  assert.deepEqual(conflictError(results, `mags-merge-conflict 9\n${tree}\0p\0`).files, ['p']);
});
