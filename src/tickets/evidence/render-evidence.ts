/**
 * Evidence for people: Markdown (`mags ticket evidence --markdown`, e.g. pasted into a pull
 * request) and plain text for a terminal. The verified results lead; the agent's own summary and
 * claims stand beside them, labelled as its word.
 */
import type { CriterionResult, Evidence } from '../../api/tickets.ts';
import { criterionStatusMarks, criterionStatusWords } from './criterion-status-words.ts';
import { describeTests, summarizeEvidence } from './summarize-evidence.ts';

/** Lines of a log or a failed check's output shown (its end, where the failures are reported). */
const logTailLines = 60;
const checkTailLines = 20;

const statusMarks: Record<CriterionResult['status'], string> = {
  met: '✅',
  not_met: '❌',
  needs_person: '❔',
};

export function renderEvidenceMarkdown(evidence: Evidence): string {
  const out: string[] = [];
  out.push(`## Evidence: ${evidence.ticket} (attempt ${evidence.attempt})`, '');
  out.push(`**${summarizeEvidence(evidence)}**`, '');
  out.push(`Agent ended: \`${evidence.agentEnd}\` — ${inline(evidence.agentMessage)}`, '');

  out.push('### Acceptance criteria (verified by the platform)', '');
  out.push('| # | Criterion | Result | Check | Agent claimed |', '| - | - | - | - | - |');
  for (const criterion of evidence.criteria) {
    out.push(
      `| ${criterion.criterion + 1} | ${cell(criterion.text)} | ${statusMarks[criterion.status]} ${resultWords(criterion)} | ${criterion.check ? code(criterion.check) : '—'} | ${cell(claimWords(criterion))} |`,
    );
  }
  out.push('');
  for (const criterion of evidence.criteria) {
    if (criterion.status !== 'not_met' || !criterion.output) continue;
    out.push(
      `<details><summary>Criterion ${criterion.criterion + 1}: output of the check (end)</summary>`,
      '',
      fence(tail(criterion.output, checkTailLines)),
      '</details>',
      '',
    );
  }

  out.push('### Tests', '');
  if (evidence.tests) {
    out.push(
      `${code(evidence.tests.command)}: ${describeTests(evidence.tests)}${countsFormat(evidence)}, ${duration(evidence.tests.durationMs)}`,
      '',
    );
    out.push(
      '<details><summary>Test log (end)</summary>',
      '',
      fence(tail(evidence.tests.log, logTailLines)),
      '</details>',
      '',
    );
  } else {
    out.push('The project has no test command.', '');
  }

  out.push(
    `### Changes against ${evidence.baseCommit ? code(evidence.baseCommit.slice(0, 12)) : 'the start'}`,
    '',
  );
  if (evidence.diffStat.files.length === 0) {
    out.push('No files changed.', '');
  } else {
    out.push('| File | Added | Removed |', '| - | -: | -: |');
    for (const file of evidence.diffStat.files) {
      out.push(
        `| ${code(file.path)} | ${file.binary ? 'binary' : (file.added ?? '?')} | ${file.binary ? '' : (file.removed ?? '?')} |`,
      );
    }
    out.push(
      '',
      '<details><summary>Diff</summary>',
      '',
      fence(evidence.diff, 'diff'),
      '</details>',
      '',
    );
  }

  out.push("### The agent's summary (its own word)", '');
  out.push(evidence.summary ? quote(evidence.summary) : '_The agent gave no summary._', '');

  out.push('### Cost', '');
  out.push(
    '| Input tokens | Output tokens | Cost | Steps | Duration |',
    '| -: | -: | -: | -: | -: |',
  );
  const usage = evidence.usage;
  out.push(
    `| ${usage.inputTokens} | ${usage.outputTokens} | $${usage.costUsd.toFixed(4)} | ${usage.steps} | ${duration(evidence.durationMs)} |`,
    '',
  );
  return `${out.join('\n').trimEnd()}\n`;
}

export function renderEvidenceText(evidence: Evidence, options: { diff?: boolean } = {}): string {
  const out: string[] = [];
  out.push(
    `Ticket ${evidence.ticket}, attempt ${evidence.attempt}: ${summarizeEvidence(evidence)}`,
  );
  out.push(`Agent ended: ${evidence.agentEnd} (${evidence.agentMessage})`, '');
  out.push('Criteria (verified by running their checks):');
  for (const criterion of evidence.criteria) {
    const mark = criterionStatusMarks[criterion.status];
    out.push(`  ${mark} ${criterion.criterion + 1}. ${criterion.text}`);
    out.push(
      `      ${resultWords(criterion)}${criterion.check ? ` — check: ${criterion.check}` : ''}`,
    );
    if (criterion.claim) out.push(`      agent claimed: ${claimWords(criterion)}`);
    if (criterion.status === 'not_met' && criterion.output) {
      for (const line of tail(criterion.output, checkTailLines).split('\n'))
        out.push(`      | ${line}`);
    }
  }
  out.push('');
  if (evidence.tests) {
    out.push(
      `Tests: ${evidence.tests.command} → ${describeTests(evidence.tests)}${countsFormat(evidence)}, ${duration(evidence.tests.durationMs)}`,
    );
    if (evidence.tests.exitCode !== 0) {
      for (const line of tail(evidence.tests.log, logTailLines).split('\n'))
        out.push(`  | ${line}`);
    }
  } else {
    out.push('Tests: the project has no test command');
  }
  out.push('');
  const files = evidence.diffStat.files;
  out.push(
    `Changes against ${evidence.baseCommit?.slice(0, 12) ?? 'the start'}: ${files.length} ${files.length === 1 ? 'file' : 'files'}`,
  );
  for (const file of files) {
    out.push(
      `  ${file.path}  ${file.binary ? '(binary)' : `+${file.added ?? '?'} -${file.removed ?? '?'}`}`,
    );
  }
  out.push('', "The agent's summary (its own word):");
  out.push(evidence.summary ? indent(evidence.summary) : '  (none)');
  const usage = evidence.usage;
  out.push(
    '',
    `Usage: ${usage.inputTokens} input + ${usage.outputTokens} output tokens, $${usage.costUsd.toFixed(4)}, ${usage.steps} steps, ${duration(evidence.durationMs)}`,
  );
  if ((options.diff ?? true) && evidence.diff) out.push('', evidence.diff.trimEnd());
  return `${out.join('\n')}\n`;
}

function resultWords(criterion: CriterionResult): string {
  if (criterion.status === 'needs_person') return 'needs a person (no check command)';
  if (criterion.timedOut)
    return `${criterionStatusWords[criterion.status]} (timed out after ${duration(criterion.durationMs)})`;
  return `${criterionStatusWords[criterion.status]} (exit ${criterion.exitCode ?? 'none'})`;
}

function claimWords(criterion: CriterionResult): string {
  if (!criterion.claim) return '—';
  const words = criterion.claim.met ? 'met' : 'not met';
  return criterion.claim.note ? `${words}: ${criterion.claim.note}` : words;
}

function countsFormat(evidence: Evidence): string {
  return evidence.tests?.counts ? ` (read from ${evidence.tests.counts.format} output)` : '';
}

function duration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.round(milliseconds)} ms`;
  const seconds = milliseconds / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return all.length <= lines ? all.join('\n') : ['…', ...all.slice(-lines)].join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** One line of Markdown text: newlines become spaces. */
function inline(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/** A table cell: no newlines, no bare pipes. */
function cell(text: string): string {
  return inline(text).replaceAll('|', '\\|');
}

/** Inline code that survives backticks inside it and sits in a table cell. */
function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const body = inline(text).replaceAll('|', '\\|');
  if (longest === 0) return `\`${body}\``;
  // Spaces keep a backtick at either end apart from the fence (CommonMark strips one each side).
  const ticks = '`'.repeat(longest + 1);
  return `${ticks} ${body} ${ticks}`;
}

/** A fenced block longer than any backtick run inside it. */
function fence(text: string, language = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const ticks = '`'.repeat(longest + 1);
  return `${ticks}${language}\n${text.trimEnd()}\n${ticks}`;
}

function quote(text: string): string {
  return text
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n');
}
