import type { Evidence } from '../api/tickets.ts';

/**
 * Why a ticket awaiting review is left for a person rather than approved automatically, in
 * words; null when its evidence passed (every criterion verified met, its tests passed or none).
 */
export function autoApprovalRefusal(
  evidence: Pick<Evidence, 'criteria' | 'tests'> | undefined,
): string | null {
  if (!evidence) return 'it has no evidence';
  const unmet = evidence.criteria.filter((criterion) => criterion.status !== 'met');
  if (unmet.length > 0) {
    return `${unmet.length} of ${evidence.criteria.length} criteria not verified met`;
  }
  const tests = evidence.tests;
  if (tests && tests.exitCode !== 0) {
    return `its tests failed (${tests.timedOut ? 'timed out' : `exit ${tests.exitCode}`})`;
  }
  return null;
}
