import type { Evidence } from '../../api/tickets.ts';

/** One line: "2/3 criteria met, tests 14 passed 0 failed, 3 files changed". */
export function summarizeEvidence(
  evidence: Pick<Evidence, 'criteria' | 'tests' | 'diffStat'>,
): string {
  const met = evidence.criteria.filter((criterion) => criterion.status === 'met').length;
  const needPerson = evidence.criteria.filter(
    (criterion) => criterion.status === 'needs_person',
  ).length;
  let criteria = `${met}/${evidence.criteria.length} criteria met`;
  if (needPerson > 0) criteria += ` (${needPerson} for a person to judge)`;
  const files = evidence.diffStat.files.length;
  return `${criteria}, ${describeTests(evidence.tests)}, ${files} ${files === 1 ? 'file' : 'files'} changed`;
}

export function describeTests(tests: Evidence['tests']): string {
  if (!tests) return 'no test command';
  if (tests.timedOut) return 'tests timed out';
  const exit = tests.exitCode === null ? 'no exit code' : `exit ${tests.exitCode}`;
  if (tests.counts) {
    const { passed, failed, skipped } = tests.counts;
    let text = `tests ${passed} passed ${failed} failed`;
    if (skipped > 0) text += ` ${skipped} skipped`;
    // Counts of 0 failed beside a failing exit: the runner broke outside any test.
    if (tests.exitCode !== 0) text += ` (${exit})`;
    return text;
  }
  return tests.exitCode === 0 ? 'tests passed (exit 0)' : `tests failed (${exit})`;
}
