/** SWE-bench grading of the hidden tests (eval/grade.ts), from node's TAP output. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scriptedExpectationFailures } from '../eval/evaluation-expectations.ts';
import { gradeResults, parseTapResults } from '../eval/grade.ts';

const tap = [
  'TAP version 13',
  '# Subtest: fixes a',
  'ok 1 - fixes a',
  '  ---',
  '  ...',
  '# Subtest: fixes b',
  'not ok 2 - fixes b',
  '  ---',
  '  ...',
  '    ok 1 - an indented subtest is not top-level',
  'ok 3 - keeps c \\# escaped',
  'ok 4 - keeps d',
  '1..4',
].join('\n');

test('reads top-level results from TAP, unescaping names', () => {
  assert.deepEqual(
    [...parseTapResults(tap)],
    [
      ['fixes a', true],
      ['fixes b', false],
      ['keeps c # escaped', true],
      ['keeps d', true],
    ],
  );
});

test('FULL, PARTIAL and NO as SWE-bench grades them', () => {
  const results = parseTapResults(tap);
  const grade = (failToPass: string[], passToPass: string[]) =>
    gradeResults({ failToPass, passToPass }, results);
  assert.equal(grade(['fixes a'], ['keeps d']).grade, 'FULL');
  const partial = grade(['fixes a', 'fixes b'], ['keeps d']);
  assert.equal(partial.grade, 'PARTIAL');
  assert.deepEqual(partial.failToPass, { passed: 1, total: 2 });
  assert.deepEqual(partial.failing, ['fixes b']);
  // A PASS_TO_PASS test broken: NO, however many FAIL_TO_PASS pass.
  assert.equal(grade(['fixes a'], ['keeps d', 'fixes b']).grade, 'NO');
  assert.equal(grade(['fixes b'], ['keeps d']).grade, 'NO');
  // A listed test that never ran (its file did not load) counts as failed.
  const missing = grade(['fixes a'], ['never ran']);
  assert.equal(missing.grade, 'NO');
  assert.deepEqual(missing.failing, ['never ran']);
});

test('the scripted models are held to FULL (oracle) and NO with claims refused (liar)', () => {
  const row = (grade: 'FULL' | 'NO', met: number) => ({
    fixture: 'f',
    ticket: 'tkt_1',
    status: 'awaiting_review',
    grade: gradeResults(
      { failToPass: ['fixes a'], passToPass: [] },
      new Map([['fixes a', grade === 'FULL']]),
    ),
    criteria: { met, total: 2 },
    steps: 1,
    tokens: 10,
    costUsd: 0,
    durationMs: 1,
    note: null,
  });
  assert.deepEqual(scriptedExpectationFailures('oracle', [row('FULL', 2)]), []);
  assert.deepEqual(scriptedExpectationFailures('liar', [row('NO', 1)]), []);
  assert.equal(scriptedExpectationFailures('oracle', [row('NO', 2)]).length, 1);
  assert.equal(scriptedExpectationFailures('oracle', [row('FULL', 1)]).length, 1);
  assert.equal(scriptedExpectationFailures('liar', [row('FULL', 1)]).length, 1);
  // The platform believed the liar: every criterion met is a failure even with a NO grade.
  assert.equal(scriptedExpectationFailures('liar', [row('NO', 2)]).length, 1);
  assert.equal(
    scriptedExpectationFailures('liar', [{ ...row('NO', 0), grade: null, status: 'failed' }])
      .length,
    2,
  );
});
