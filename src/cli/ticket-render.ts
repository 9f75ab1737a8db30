import type { Evidence, Ticket, TicketEvent, TicketStatus } from '../api/tickets.ts';
import {
  criterionStatusMarks,
  criterionStatusWords,
} from '../tickets/evidence/criterion-status-words.ts';

/** Lines of a command's output shown in the terminal (all of it is in the event). */
const maxOutputLines = 12;

/** Model text arrives in pieces: a renderer keeps whether a line is open. */
export interface WatchState {
  /** Text was written without its newline yet. */
  midText: boolean;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  steps: number;
}

export const newWatchState = (): WatchState => ({
  midText: false,
  costUsd: 0,
  inputTokens: 0,
  outputTokens: 0,
  steps: 0,
});

/**
 * `mags ticket watch`'s exit code once the ticket stops moving, so a script can tell how it
 * ended: 1 failed, 3 stopped (2 is a usage error), 0 otherwise (in review, approved, closed).
 */
export function watchExitCode(status: TicketStatus): number {
  if (status === 'failed') return 1;
  if (status === 'stopped') return 3;
  return 0;
}

/**
 * One event as `mags ticket watch` shows it: model text as it arrives, each command with its
 * exit code and the head and tail of its output, file changes, checks, status changes, and a
 * cost line after each step's usage.
 */
export function renderTicketEvent(event: TicketEvent, state: WatchState): string {
  const data = event.data;
  if (data.type === 'text') {
    const text = terminalSafe(data.text);
    if (text === '') return '';
    state.midText = !text.endsWith('\n');
    return text;
  }
  const lines: string[] = [];
  const line = (text: string) => lines.push(text);
  switch (data.type) {
    case 'status':
      line(`── ${data.to}${data.reason ? `: ${data.reason}` : ''} (attempt ${event.attempt})`);
      break;
    case 'tool_call':
      line(`→ ${data.tool} ${compact(data.input)}`);
      break;
    case 'tool_result':
      if (data.isError) line(`✗ ${data.tool}: ${firstLine(data.output)}`);
      break;
    case 'command': {
      const exit = data.timedOut ? 'timed out' : `exit ${data.exitCode ?? '?'}`;
      line(`$ ${data.command}  [${data.source}, ${exit}, ${formatMs(data.durationMs)}]`);
      for (const shown of headAndTail(data.output)) line(`  ${shown}`);
      break;
    }
    case 'file_change':
      line(`✎ ${data.change} ${data.path}`);
      break;
    case 'usage':
      state.costUsd = data.total.costUsd;
      state.inputTokens = data.total.inputTokens;
      state.outputTokens = data.total.outputTokens;
      state.steps = data.total.steps;
      line(costLine(state));
      break;
    case 'comment':
      line(`💬 ${data.author}: ${data.text}`);
      break;
    case 'finish':
      line(`✔ the agent says it is done: ${firstLine(data.summary)}`);
      for (const claim of data.claims) {
        line(`  claims criterion ${claim.criterion + 1} ${claim.met ? 'met' : 'not met'}`);
      }
      break;
    case 'retry':
      line(`↻ retry ${data.attempt} in ${formatMs(data.delayMs)}: ${data.message}`);
      break;
    case 'check':
      line(
        `${criterionStatusMarks[data.status]} criterion ${data.criterion + 1}: ${criterionStatusWords[data.status]}${data.exitCode === null ? '' : ` (exit ${data.exitCode})`}`,
      );
      break;
    case 'evidence':
      line(`▣ evidence: ${data.summary}`);
      break;
    case 'notice':
      line(`! ${data.message}`);
      break;
  }
  const text = terminalSafe(`${lines.join('\n')}\n`);
  const prefix = state.midText ? '\n' : '';
  state.midText = false;
  return prefix + text;
}

/**
 * Model output, command output, file names and reasons come from the agent and whatever it ran:
 * escape sequences in them could move the cursor, rewrite what was printed, retitle the window
 * or worse. They are taken out whole (not just their ESC), with every other control character
 * but newline and tab.
 */
export function terminalSafe(text: string): string {
  return text
    .replace(stringSequences, '')
    .replace(controlSequences, '')
    .replace(otherEscapes, '')
    .replace(controlCharacters, '');
}

// OSC, DCS, SOS, PM, APC: up to BEL or ST (or the end, if unterminated).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const stringSequences = /\x1b[\]PX^_][\s\S]*?(?:\x07|\x1b\\|$)/g;
// CSI (ESC [ or its one-byte form): parameters, intermediates, a final byte.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const controlSequences = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?/g;
// Any other escape: ESC and the byte after it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const otherEscapes = /\x1b[\s\S]?/g;
// C0 but tab and newline, DEL, C1.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const controlCharacters = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

export function costLine(state: WatchState): string {
  return `  $${state.costUsd.toFixed(4)} · ${state.inputTokens} in / ${state.outputTokens} out tokens · ${plural(state.steps, 'step')}`;
}

/** `mags ticket show`: the fields a person reads. */
export function renderTicket(ticket: Ticket): string {
  const rows: Array<[string, string]> = [
    ['id', ticket.id],
    ['project', ticket.project],
    ['title', ticket.title],
    ['status', ticket.status + (ticket.reason ? ` (${ticket.reason})` : '')],
    ['role', ticket.role],
    ['model', ticket.model ?? '(default)'],
    ['attempt', String(ticket.attempt)],
    ['workspace', ticket.workspace ?? '-'],
    ['base', ticket.baseCommit ?? '-'],
    ['budget', describeBudget(ticket.budget)],
    [
      'usage',
      `$${ticket.usage.costUsd.toFixed(4)}, ${ticket.usage.inputTokens} in / ${ticket.usage.outputTokens} out tokens, ${plural(ticket.usage.steps, 'step')}`,
    ],
  ];
  if (ticket.branch) rows.push(['branch', `${ticket.branch} ${ticket.commit ?? ''}`]);
  const criteria = ticket.criteria.map(
    (criterion, index) =>
      `  ${index + 1}. ${criterion.text}${criterion.check ? `  [check: ${criterion.check}]` : ''}`,
  );
  return terminalSafe(
    [
      ...rows.map(([key, value]) => `${`${key}:`.padEnd(11)}${value}`),
      'criteria:',
      ...criteria,
      'request:',
      ...ticket.request.split('\n').map((text) => `  ${text}`),
      '',
    ].join('\n'),
  );
}

/** The limits the ticket sets itself; the server's defaults fill the rest. */
function describeBudget(budget: Ticket['budget']): string {
  const limits = [
    budget.maxSteps !== undefined && plural(budget.maxSteps, 'step'),
    budget.maxTokens !== undefined && plural(budget.maxTokens, 'token'),
    budget.maxCostUsd !== undefined && `$${budget.maxCostUsd}`,
    budget.maxWallMs !== undefined && formatWall(budget.maxWallMs),
  ].filter((limit) => limit !== false);
  return limits.length === 0
    ? "the server's defaults"
    : `${limits.join(', ')} (the rest: the server's defaults)`;
}

/** A wall-time budget as it is given: 90s, 30m, 2h. */
function formatWall(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

function headAndTail(output: string): string[] {
  const lines = output.replace(/\n$/, '').split('\n');
  if (lines.length === 1 && lines[0] === '') return [];
  if (lines.length <= maxOutputLines) return lines;
  const half = maxOutputLines / 2;
  return [
    ...lines.slice(0, half),
    `… ${lines.length - maxOutputLines} more lines …`,
    ...lines.slice(-half),
  ];
}

function compact(value: unknown): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

const firstLine = (text: string) => text.split('\n')[0] ?? '';

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `mags ticket evidence --timeline`: when each thing happened, from the attempt's start. */
export function renderTimeline(evidence: Evidence): string {
  const timeline = evidence.timeline;
  if (!timeline) return 'timeline: not recorded for this attempt (older evidence)\n';
  const start = Date.parse(evidence.startedAt);
  const lines = timeline.map(({ at, event }) => {
    // An event before the attempt's start (its time in the queue) counts down to it.
    const ms = Date.parse(at) - start;
    const seconds = (Math.abs(ms) / 1000).toFixed(1);
    const sign = ms < 0 && seconds !== '0.0' ? '-' : '+';
    return `  ${sign}${seconds.padStart(6)}s  ${event}`;
  });
  return terminalSafe(`timeline (attempt ${evidence.attempt}):\n${lines.join('\n')}\n`);
}
