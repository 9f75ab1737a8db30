import { isPlanMoving, type Plan, type PlanEvent, type PlanTicket } from '../api/plans.ts';
import type { TicketEvent } from '../api/tickets.ts';
import {
  firstLine,
  formatDuration,
  formatUsd,
  planMark,
  plannerLine,
  planTicketWord,
  ticketsByDependencies,
} from './plan-render.ts';
import { terminalSafe } from './ticket-render.ts';

/** One ticket's row in `mags plan watch`. */
interface WatchRow {
  ticket: PlanTicket;
  /** What it does now or did last: a tool call, a command with its exit code, a check. */
  activity: string;
}

/** What `mags plan watch` knows of the plan: the plan as fetched, moved on by each event. */
export interface PlanWatchState {
  plan: Plan;
  rows: Map<string, WatchRow>;
}

export function newPlanWatchState(plan: Plan): PlanWatchState {
  const copy = structuredClone(plan);
  return {
    plan: copy,
    rows: new Map(copy.tickets.map((ticket) => [ticket.key, { ticket, activity: '' }])),
  };
}

/**
 * Moves the state on by one event and returns the lines that say what changed (what watch prints
 * without a terminal, one per change): plan and ticket statuses, planner tries, commands, checks,
 * merges, notices. Model text, tool results and per-step usage change the table, not the lines.
 */
export function applyPlanEvent(state: PlanWatchState, event: PlanEvent): string[] {
  const data = event.data;
  const lines: string[] = [];
  switch (data.type) {
    case 'plan_status':
      state.plan.status = data.to;
      state.plan.reason = data.reason;
      // When it became what it is: a settled plan's clock stops there.
      state.plan.updatedAt = event.at;
      // Blocked: its reason is its tickets' own, each printed when it happened; said once.
      lines.push(
        `plan ${data.to}${data.reason && data.to !== 'blocked' ? `: ${data.reason}` : ''}`,
      );
      break;
    case 'planner':
      lines.push(plannerLine(data));
      break;
    case 'ticket_state': {
      const row = rowOf(state, data.key);
      row.ticket.state = data.to;
      row.ticket.reason = data.reason;
      if (data.ticket && data.ticket !== row.ticket.ticket) {
        // A retry is a new ticket: the old one's status is not its status.
        row.ticket.ticket = data.ticket;
        row.ticket.ticketStatus = null;
      }
      if (data.to !== 'dispatched') row.activity = data.reason ?? '';
      // Blocked by another ticket: which one (its own line said why), not its reason again.
      const why =
        data.to === 'blocked' && blockedByKey(data.reason)
          ? `waits for ${blockedByKey(data.reason)}`
          : data.reason;
      lines.push(
        `${data.key}: ${data.to}${data.ticket && data.to === 'dispatched' ? ` as ${data.ticket}` : ''}${why ? ` (${why})` : ''}`,
      );
      break;
    }
    case 'ticket_event': {
      const line = applyTicketEvent(rowOf(state, data.key), data.event);
      if (line) lines.push(`${data.key}: ${line}`);
      break;
    }
    case 'merge': {
      const what = data.key ? `${data.key}: ` : 'integration: ';
      lines.push(
        data.result === 'merged'
          ? `${what}merged ${plural(data.commits.length, 'result')}`
          : `${what}conflict in ${data.files.join(', ')}`,
      );
      if (data.key && data.result === 'conflict') {
        const row = rowOf(state, data.key);
        row.ticket.conflictFiles = data.files;
      }
      break;
    }
    case 'usage':
      state.plan.usage = data.total;
      break;
    case 'notice':
      lines.push(`! ${data.message}`);
      break;
  }
  return lines.map((line) => terminalSafe(line));
}

/** A ticket's own event on its row; the line to print for it, if it is a change worth one. */
function applyTicketEvent(row: WatchRow, event: TicketEvent): string | undefined {
  const data = event.data;
  switch (data.type) {
    case 'status':
      row.ticket.ticketStatus = data.to;
      row.activity = data.reason ?? '';
      return `ticket ${data.to}${data.reason ? `: ${data.reason}` : ''}`;
    case 'tool_call':
      row.activity = `→ ${data.tool}`;
      return undefined;
    case 'command': {
      const exit = data.timedOut ? 'timed out' : `exit ${data.exitCode ?? '?'}`;
      row.activity = `$ ${firstLine(data.command)} (${exit})`;
      return row.activity;
    }
    case 'file_change':
      row.activity = `✎ ${data.change} ${data.path}`;
      return undefined;
    case 'usage':
      row.ticket.usage = data.total;
      return undefined;
    case 'check':
      row.activity = `check ${data.criterion + 1}: ${data.status.replace('_', ' ')}`;
      return row.activity;
    case 'finish':
      row.activity = 'the agent says it is done';
      return row.activity;
    case 'evidence':
      row.activity = `evidence: ${firstLine(data.summary)}`;
      return row.activity;
    case 'notice':
      return `! ${data.message}`;
    default:
      return undefined;
  }
}

/** A row for a key the plan did not have when fetched (an edit in between): made on sight. */
function rowOf(state: PlanWatchState, key: string): WatchRow {
  let row = state.rows.get(key);
  if (!row) {
    const ticket: PlanTicket = {
      key,
      title: key,
      request: '',
      criteria: [],
      dependsOn: [],
      state: 'pending',
      reason: null,
      ticket: null,
      ticketStatus: null,
      usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 },
      conflictFiles: [],
    };
    state.plan.tickets.push(ticket);
    row = { ticket, activity: '' };
    state.rows.set(key, row);
  }
  return row;
}

/**
 * The live table `mags plan watch` redraws on a terminal: a header with the plan's status,
 * progress, cost and time, then one row per ticket (indented by its dependencies) with its mark
 * and status, cost, and what it does now. Every line is cut to `columns` so none wraps (a wrapped
 * line would throw off the redraw's count of lines).
 */
export function renderPlanBoard(
  state: PlanWatchState,
  options: { columns: number; rows?: number; now: number },
): string[] {
  const { plan } = state;
  const tickets = [...state.rows.values()].map((row) => row.ticket);
  const approved = tickets.filter((ticket) => planTicketWord(ticket) === 'approved').length;
  // A settled plan's time ends where it settled (its last change), not at the watcher's now.
  const end = isPlanMoving(plan) ? options.now : Date.parse(plan.updatedAt);
  const elapsed = formatDuration(Math.max(0, end - Date.parse(plan.createdAt)));
  const header = `${plan.id}  ${planMark(plan.status)} ${plan.status}  ${approved}/${tickets.length} approved  ${formatUsd(plan.usage.costUsd)}  ${elapsed}`;
  const lines = [header];
  if (plan.reason) lines.push(`  ${plan.reason}`);
  const rows = ticketsByDependencies(tickets).map(({ ticket, depth }) => {
    const word = planTicketWord(ticket);
    const activity =
      state.rows.get(ticket.key)?.activity ||
      (word === 'waiting' && ticket.dependsOn.length > 0
        ? `waits for ${ticket.dependsOn.join(', ')}`
        : '');
    return [
      `${'  '.repeat(depth)}${ticket.key}`,
      `${planMark(word)} ${word}`,
      ticket.usage.costUsd > 0 ? formatUsd(ticket.usage.costUsd) : '-',
      activity,
    ];
  });
  const widths = [0, 1, 2].map((column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length), 3),
  );
  // At most the terminal's rows less one (the cursor's line): a board taller than the screen
  // could not be moved back over. The rest is summed up in one line.
  const room = Math.max((options.rows ?? Number.MAX_SAFE_INTEGER) - 1 - lines.length, 2);
  const shown = rows.length > room ? rows.slice(0, room - 1) : rows;
  for (const row of shown) {
    lines.push(
      `  ${row
        .map((cell, column) => (column < 3 ? cell.padEnd(widths[column] ?? 0) : cell))
        .join('  ')
        .trimEnd()}`,
    );
  }
  if (shown.length < rows.length) lines.push(`  … ${rows.length - shown.length} more tickets`);
  return lines.map((line) => cut(oneLine(terminalSafe(line)), options.columns));
}

/** Reasons and activities may hold newlines and tabs: one board line must stay one line. */
const oneLine = (line: string): string => line.replace(/[\n\r\t]/g, ' ');

/**
 * A line cut to fit the terminal's width, with an ellipsis when it was longer; wide characters
 * (CJK, most emoji) take two columns, combining marks none.
 */
export function cut(line: string, columns: number): string {
  const width = Math.max(columns - 1, 10);
  let used = 0;
  let text = '';
  const characters = [...line];
  for (const [index, character] of characters.entries()) {
    const size = displayWidth(character);
    if (used + size > width || (used + size === width && index < characters.length - 1)) {
      return `${text}…`;
    }
    used += size;
    text += character;
  }
  return text;
}

function displayWidth(character: string): number {
  const code = character.codePointAt(0) ?? 0;
  if (/\p{Mark}/u.test(character) || code === 0x200b) return 0;
  return (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
    ? 2
    : 1;
}

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** The key in a "blocked by KEY (tkt_…) failed: …" reason (the event carries no blockedBy). */
function blockedByKey(reason: string | null): string | undefined {
  return reason?.match(/^blocked by ([a-z0-9][a-z0-9-]*)[ :]/)?.[1];
}
