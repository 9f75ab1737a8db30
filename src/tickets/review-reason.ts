import type { AgentOutcome } from '../agents/agent.ts';
import type { Evidence } from '../api/tickets.ts';

/**
 * "1 of 3 criteria not met (2. says goodbye); tests failed (exit 1)", or "all 3 criteria met;
 * tests passed". The failures are named (numbered from 1, as `mags ticket show` lists them), so
 * the list of tickets says what to look at.
 */
export function reviewReason(outcome: AgentOutcome, evidence: Evidence): string {
  const total = evidence.criteria.length;
  const count = (status: string) =>
    evidence.criteria.filter((criterion) => criterion.status === status).length;
  const notMet = count('not_met');
  const needsPerson = count('needs_person');
  const parts: string[] = [];
  if (outcome.reason !== 'finished') parts.push(outcome.message);
  if (notMet > 0) {
    const named = evidence.criteria
      .filter((criterion) => criterion.status === 'not_met')
      .map((criterion) => `${criterion.criterion + 1}. ${shorten(criterion.text, 60)}`);
    parts.push(`${notMet} of ${total} criteria not met (${named.join(', ')})`);
  } else if (needsPerson === 0) parts.push(`all ${total} criteria met`);
  else parts.push(`${total - needsPerson} of ${total} criteria met`);
  if (needsPerson > 0) parts.push(`${needsPerson} for a person to check`);
  if (evidence.tests) {
    parts.push(
      evidence.tests.exitCode === 0
        ? 'tests passed'
        : evidence.tests.timedOut
          ? 'tests timed out'
          : `tests failed (exit ${evidence.tests.exitCode})`,
    );
  }
  return parts.join('; ');
}

function shorten(text: string, maxChars: number): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}
