import type { PlanEvidence } from '../api/plans.ts';
import {
  criterionStatusMarks,
  criterionStatusWords,
} from '../tickets/evidence/criterion-status-words.ts';
import { formatDuration, formatUsd } from './plan-render.ts';

/**
 * `mags plan evidence`: what one review of the whole plan needs: the tickets in the order their
 * results were merged, each with its criteria as the platform verified them; the project's tests
 * on the merged result; the combined diff stat against the plan's base (and the diff with `diff`).
 */
export function renderPlanEvidence(
  evidence: PlanEvidence,
  options: { diff?: boolean } = {},
): string {
  const out: string[] = [];
  const unmet = evidence.tickets.flatMap((ticket) =>
    ticket.criteria.filter((criterion) => criterion.status !== 'met'),
  ).length;
  out.push(
    `Plan ${evidence.plan}: ${evidence.tickets.length} tickets merged at ${evidence.commit.slice(0, 12)}; ${testsWords(evidence)}; ${unmet === 0 ? 'every criterion met' : `${unmet} criteria not verified met`}`,
  );
  out.push(`Merge order: ${evidence.mergeOrder.join(' → ')}`, '');
  out.push('Tickets and their criteria (verified by running their checks):');
  for (const ticket of evidence.tickets) {
    out.push(
      `  ${ticket.key} (${ticket.ticket}${ticket.commit ? ` at ${ticket.commit.slice(0, 12)}` : ''}): ${ticket.title}  ${formatUsd(ticket.usage.costUsd)}`,
    );
    for (const criterion of ticket.criteria) {
      out.push(
        `    ${criterionStatusMarks[criterion.status]} ${criterion.criterion + 1}. ${criterion.text} — ${criterionStatusWords[criterion.status]}${criterion.check ? ` (check: ${criterion.check})` : ''}`,
      );
    }
  }
  out.push('');
  if (evidence.tests) {
    out.push(`Tests on the merged result: ${evidence.tests.command} → ${testsWords(evidence)}`);
    if (evidence.tests.exitCode !== 0) {
      for (const line of evidence.tests.log.trimEnd().split('\n').slice(-20))
        out.push(`  | ${line}`);
    }
  } else {
    out.push('Tests: the project has no test command');
  }
  out.push('');
  const files = evidence.diffStat.files;
  out.push(
    `Changes against ${evidence.baseCommit.slice(0, 12)}: ${files.length} ${files.length === 1 ? 'file' : 'files'}`,
  );
  for (const file of files) {
    out.push(
      `  ${file.path}  ${file.binary ? '(binary)' : `+${file.added ?? '?'} -${file.removed ?? '?'}`}`,
    );
  }
  const usage = evidence.usage;
  out.push(
    '',
    `Usage: ${usage.inputTokens} input + ${usage.outputTokens} output tokens, ${formatUsd(usage.costUsd)}; integration ${formatDuration(evidence.durationMs)}`,
  );
  if (options.diff && evidence.diff) out.push('', evidence.diff.trimEnd());
  return `${out.join('\n')}\n`;
}

function testsWords(evidence: PlanEvidence): string {
  const tests = evidence.tests;
  if (!tests) return 'no test command';
  if (tests.timedOut) return `tests timed out after ${formatDuration(tests.durationMs)}`;
  const counts = tests.counts
    ? ` (${tests.counts.passed} passed, ${tests.counts.failed} failed${tests.counts.skipped ? `, ${tests.counts.skipped} skipped` : ''})`
    : '';
  return `tests ${tests.exitCode === 0 ? 'pass' : `fail (exit ${tests.exitCode ?? '?'})`}${counts}`;
}
