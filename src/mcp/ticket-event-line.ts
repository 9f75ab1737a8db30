import type { Evidence, TicketEvent } from '../api/tickets.ts';

/** The most of a command's output or a diff one event line shows; the whole is a resource. */
const excerptChars = 1500;

function excerpt(text: string, maxChars = excerptChars): string {
  if (text.length <= maxChars) return text;
  const half = Math.floor(maxChars / 2);
  return `${text.slice(0, half)}\n[... ${text.length - maxChars} characters left out ...]\n${text.slice(-half)}`;
}

const json = (value: unknown) => excerpt(JSON.stringify(value) ?? 'undefined', 300);

/** One event as a line (or a few) a model can read: what happened, not the wire format. */
export function ticketEventLine(event: TicketEvent): string {
  const data = event.data;
  const head = `#${event.id}`;
  switch (data.type) {
    case 'status':
      return `${head} status ${data.from ?? '(new)'} → ${data.to}${data.reason ? `: ${data.reason}` : ''}`;
    case 'text':
      return `${head} model text: ${excerpt(data.text)}`;
    case 'tool_call':
      return `${head} tool call ${data.tool} ${json(data.input)}`;
    case 'tool_result':
      return `${head} tool result ${data.tool}${data.isError ? ' (error)' : ''}: ${excerpt(data.output, 500)}`;
    case 'command':
      return (
        `${head} ${data.source} command \`${excerpt(data.command, 300)}\`: ` +
        `${data.timedOut ? 'timed out' : `exit ${data.exitCode ?? 'none'}`} in ${data.durationMs} ms` +
        (data.output ? `\n${excerpt(data.output)}` : '')
      );
    case 'file_change':
      return `${head} file ${data.change}: ${data.path}`;
    case 'usage':
      return `${head} usage step ${data.step}: ${data.inputTokens} in / ${data.outputTokens} out tokens, $${data.total.costUsd.toFixed(4)} so far`;
    case 'comment':
      return `${head} comment by ${data.author}: ${excerpt(data.text)}`;
    case 'finish':
      return `${head} agent finished: ${excerpt(data.summary)}`;
    case 'retry':
      return `${head} retry ${data.attempt} in ${data.delayMs} ms: ${data.message}`;
    case 'check':
      return `${head} criterion ${data.criterion + 1}: ${data.status}`;
    case 'evidence':
      return `${head} evidence ready: ${excerpt(data.summary)}`;
    case 'notice':
      return `${head} notice: ${data.message}`;
  }
}

/**
 * Model text arrives as many small deltas; consecutive ones are joined into one line so a
 * model reads sentences, not fragments.
 */
export function ticketEventLines(events: TicketEvent[]): string[] {
  const lines: string[] = [];
  let text: { first: number; parts: string[] } | undefined;
  const flush = () => {
    if (text) lines.push(`#${text.first} model text: ${excerpt(text.parts.join(''))}`);
    text = undefined;
  };
  for (const event of events) {
    if (event.data.type === 'text') {
      text ??= { first: event.id, parts: [] };
      text.parts.push(event.data.text);
      continue;
    }
    flush();
    lines.push(ticketEventLine(event));
  }
  flush();
  return lines;
}

/** The evidence as a model reviews it: each criterion met or not, the tests, the change. */
export function evidenceSummary(evidence: Evidence): string {
  const lines = [
    `Ticket ${evidence.ticket}, attempt ${evidence.attempt}: the agent ended with "${evidence.agentEnd}"` +
      (evidence.agentMessage ? ` (${evidence.agentMessage})` : ''),
  ];
  if (evidence.summary) lines.push(`Agent's summary: ${excerpt(evidence.summary)}`);
  lines.push("Criteria (verified by the platform, not on the agent's word):");
  for (const result of evidence.criteria) {
    const how = result.check
      ? `check \`${excerpt(result.check, 200)}\` ${result.timedOut ? 'timed out' : `exit ${result.exitCode ?? 'none'}`}`
      : 'no check command: a person decides';
    const claim = result.claim
      ? `; the agent claims ${result.claim.met ? 'met' : 'not met'}${result.claim.note ? ` (${excerpt(result.claim.note, 300)})` : ''}`
      : '';
    lines.push(
      `  ${result.criterion + 1}. ${result.status.toUpperCase()}: ${result.text} (${how}${claim})`,
    );
    if (result.status === 'not_met' && result.output) lines.push(excerpt(result.output, 800));
  }
  if (evidence.tests) {
    const { tests } = evidence;
    const counts = tests.counts
      ? `, ${tests.counts.passed} passed, ${tests.counts.failed} failed, ${tests.counts.skipped} skipped`
      : '';
    lines.push(
      `Tests \`${tests.command}\`: ${tests.timedOut ? 'timed out' : `exit ${tests.exitCode ?? 'none'}`}${counts} in ${tests.durationMs} ms`,
    );
    if (tests.exitCode !== 0) lines.push(excerpt(tests.log, 1500));
  } else {
    lines.push('Tests: none run (the project has no test command).');
  }
  const files = evidence.diffStat.files.map((file) =>
    file.binary
      ? `${file.path} (binary)`
      : `${file.path} +${file.added ?? 0} -${file.removed ?? 0}`,
  );
  lines.push(files.length > 0 ? `Changed files: ${files.join(', ')}` : 'Changed files: none');
  lines.push(
    `Usage: ${evidence.usage.steps} steps, ${evidence.usage.inputTokens} in / ${evidence.usage.outputTokens} out tokens, $${evidence.usage.costUsd.toFixed(4)}; ${Math.round(evidence.durationMs / 1000)} s`,
  );
  return lines.join('\n');
}
