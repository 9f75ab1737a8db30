import type { Plan, PlanEvent, PlanStatus, PlanTicket } from '../api/plans.ts';
import type { TicketStatus } from '../api/tickets.ts';
import { terminalSafe } from './ticket-render.ts';

/** What a ticket of a plan is doing, in one word: its plan state, or its ticket's status once dispatched. */
export type PlanTicketWord = PlanTicket['state'] | TicketStatus;

export function planTicketWord(ticket: Pick<PlanTicket, 'state' | 'ticketStatus'>): PlanTicketWord {
  return ticket.state === 'dispatched' && ticket.ticketStatus ? ticket.ticketStatus : ticket.state;
}

/** The mark before a ticket or a plan in a terminal: done, moving, waiting, stuck. */
const marks: Record<PlanTicketWord | PlanStatus, string> = {
  pending: '·',
  draft: '·',
  planning: '…',
  waiting: '○',
  merging: '⇄',
  dispatched: '●',
  queued: '◌',
  running: '●',
  integrating: '⇄',
  changes_requested: '↻',
  awaiting_review: '◆',
  approved: '✔',
  blocked: '✖',
  conflict: '✖',
  failed: '✖',
  stopped: '■',
  closed: '–',
};

export const planMark = (word: PlanTicketWord | PlanStatus): string => marks[word] ?? '?';

/**
 * `mags plan watch`'s exit code once the plan is settled, so a script can tell how it ended:
 * 1 failed or blocked, 3 stopped (2 is a usage error), 0 otherwise (a draft, awaiting review,
 * approved, closed).
 */
export function planWatchExitCode(status: PlanStatus): number {
  if (status === 'failed' || status === 'blocked') return 1;
  if (status === 'stopped') return 3;
  return 0;
}

/**
 * The tickets in an order where each comes after its dependencies (the plan's order where it is
 * free), each with its depth: the length of its longest chain of dependencies.
 */
export function ticketsByDependencies<T extends Pick<PlanTicket, 'key' | 'dependsOn'>>(
  tickets: readonly T[],
): Array<{ ticket: T; depth: number }> {
  const byKey = new Map(tickets.map((ticket) => [ticket.key, ticket]));
  const depths = new Map<string, number>();
  const ordered: Array<{ ticket: T; depth: number }> = [];
  const visit = (ticket: T, seen: Set<string>): number => {
    const known = depths.get(ticket.key);
    if (known !== undefined) return known;
    // A cycle cannot be stored (the server refuses it); stop rather than recurse forever.
    if (seen.has(ticket.key)) return 0;
    seen.add(ticket.key);
    let depth = 0;
    for (const key of ticket.dependsOn) {
      const dependency = byKey.get(key);
      if (dependency) depth = Math.max(depth, visit(dependency, seen) + 1);
    }
    depths.set(ticket.key, depth);
    ordered.push({ ticket, depth });
    return depth;
  };
  for (const ticket of tickets) visit(ticket, new Set());
  return ordered;
}

export const formatUsd = (usd: number): string => `$${usd.toFixed(4)}`;

/** The tickets as a table indented by dependencies: key, status, ticket, dependencies, cost, title. */
export function renderPlanTickets(plan: Pick<Plan, 'tickets'>): string[] {
  const header = ['KEY', 'STATUS', 'TICKET', 'DEPENDS ON', 'COST', 'TITLE'];
  const rows = ticketsByDependencies(plan.tickets).map(({ ticket, depth }) => {
    const word = planTicketWord(ticket);
    return [
      `${'  '.repeat(depth)}${ticket.key}`,
      `${planMark(word)} ${word}`,
      ticket.ticket ?? '-',
      ticket.dependsOn.length > 0 ? ticket.dependsOn.join(', ') : '-',
      ticket.usage.costUsd > 0 ? formatUsd(ticket.usage.costUsd) : '-',
      ticket.title,
    ];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  return [header, ...rows].map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** `mags plan show`: the plan's fields, its tickets as a table, and why any is stuck. */
export function renderPlan(plan: Plan, options: { projectModel?: string | null } = {}): string {
  const rows: Array<[string, string]> = [
    ['id', plan.id],
    ['project', plan.project],
    // A blocked plan's reason is its tickets' (listed under them): said once, there.
    ['status', `${plan.status}${plan.reason && !stuckOnTickets(plan) ? ` (${plan.reason})` : ''}`],
    ['model', describePlanModels(plan, options.projectModel)],
    ['parallel', `at most ${plan.maxParallel} tickets at once`],
    ['approve', plan.autoApprove ? 'each ticket whose criteria are met, by itself' : 'by a person'],
    ['budget', describePlanBudget(plan.budget)],
    ['usage', describeUsage(plan.usage)],
  ];
  if (plan.branch) rows.push(['branch', `${plan.branch} ${plan.commit ?? ''}`.trimEnd()]);
  const lines = [
    ...rows.map(([key, value]) => `${`${key}:`.padEnd(10)}${value}`),
    'request:',
    ...plan.request.split('\n').map((text) => `  ${text}`),
  ];
  if (plan.summary) {
    lines.push('summary:', ...plan.summary.split('\n').map((text) => `  ${text}`));
  }
  if (plan.tickets.length > 0) {
    lines.push('', ...renderPlanTickets(plan));
    for (const ticket of plan.tickets) {
      if (ticket.blockedBy) lines.push(`  ${ticket.key}: waits for ${ticket.blockedBy}`);
      else if (ticket.reason) lines.push(`  ${ticket.key}: ${ticket.reason}`);
      if (ticket.conflictFiles.length > 0) {
        lines.push(`  ${ticket.key}: conflicting files: ${ticket.conflictFiles.join(', ')}`);
      }
    }
  }
  return terminalSafe(`${lines.join('\n')}\n`);
}

/**
 * The models its tickets run with: each one's own, else the project's default (when the caller
 * knows it), else the server's; the planner's model after, when a planner wrote it.
 */
function describePlanModels(plan: Plan, projectModel: string | null | undefined): string {
  const fallback =
    projectModel === undefined
      ? "the project's or the server's default"
      : (projectModel ?? "the server's default (MAGS_DEFAULT_MODEL)");
  const models = [...new Set(plan.tickets.map((ticket) => ticket.model ?? fallback))];
  const tickets = models.length > 0 ? models.join(', ') : fallback;
  return plan.model ? `${tickets} (planner: ${plan.model})` : tickets;
}

/** Blocked with the reason made of its tickets' own, which the ticket lines say. */
export function stuckOnTickets(plan: Pick<Plan, 'status' | 'tickets'>): boolean {
  return (
    plan.status === 'blocked' &&
    plan.tickets.some((ticket) => ticket.reason !== null || ticket.conflictFiles.length > 0)
  );
}

/** `mags plan show --criteria`-like detail for the draft a person reviews: each ticket's criteria. */
export function renderPlanCriteria(plan: Pick<Plan, 'tickets'>): string {
  const lines: string[] = [];
  for (const { ticket } of ticketsByDependencies(plan.tickets)) {
    lines.push(`${ticket.key}: ${ticket.title}`);
    ticket.criteria.forEach((criterion, index) => {
      lines.push(
        `  ${index + 1}. ${criterion.text}${criterion.check ? `  [check: ${criterion.check}]` : ''}`,
      );
    });
  }
  return terminalSafe(`${lines.join('\n')}\n`);
}

export function describePlanBudget(budget: Plan['budget']): string {
  const limits = [
    budget.maxCostUsd !== undefined && `$${budget.maxCostUsd}`,
    budget.maxTokens !== undefined && `${budget.maxTokens} tokens`,
    budget.maxWallMs !== undefined && formatDuration(budget.maxWallMs),
  ].filter((limit) => limit !== false);
  return limits.length === 0 ? "none over its tickets' own" : limits.join(', ');
}

function describeUsage(usage: Plan['usage']): string {
  return `${formatUsd(usage.costUsd)}, ${usage.inputTokens} in / ${usage.outputTokens} out tokens`;
}

/** 850 ms, 12s, 3m 05s, 1h 02m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** `planning… try 2: the plan had a cycle`: the planner's progress as `plan create` shows it. */
export function plannerLine(data: Extract<PlanEvent['data'], { type: 'planner' }>): string {
  return terminalSafe(
    data.accepted
      ? `planning… try ${data.attempt}: accepted`
      : `planning… try ${data.attempt}: ${firstLine(data.message)}`,
  );
}

export const firstLine = (text: string): string => text.split('\n')[0] ?? '';
