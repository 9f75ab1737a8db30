import type { Budget, Ticket } from '../../api/tickets.ts';
import { canStart, canStop } from '../board/ticket-columns.ts';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { formatCostUsd } from '../format/format-cost-usd.ts';
import { formatDurationMs } from '../format/format-duration-ms.ts';
import { formatTokens } from '../format/format-tokens.ts';
import type { TicketSummary } from './ticket-timeline.ts';
import type { StreamState } from './use-ticket-stream.ts';

const reviewed = new Set(['awaiting_review', 'approved', 'changes_requested', 'closed']);

/**
 * The ticket's running header: status, cost and tokens against its budget, whether the page is
 * following it live, and its actions (start, stop, the evidence).
 */
export function TicketHeader(props: {
  ticket: Ticket;
  summary: TicketSummary;
  state: StreamState;
  busy: boolean;
  onRun: () => void;
  onStop: () => void;
}) {
  const { ticket, summary } = props;
  const { usage } = summary;
  const budget: Budget = ticket.budget;
  const evidence = summary.evidence || reviewed.has(summary.status);
  return (
    <header class="ticket-header">
      <div class="ticket-title">
        <h1>{ticket.title}</h1>
        <StatusBadge status={summary.status} />
        {summary.reason ? <span class="muted">{summary.reason}</span> : null}
        <span class={`live-state live-${props.state}`}>
          {props.state === 'live'
            ? 'Live'
            : props.state === 'connecting'
              ? 'Connecting…'
              : 'Not running'}
        </span>
      </div>
      <p class="ticket-facts muted">
        <code>{ticket.id}</code> · project {ticket.project} · role {ticket.role} · model{' '}
        {ticket.model ?? 'default'} · attempt {summary.attempt}
      </p>
      <dl class="ticket-meters">
        <div>
          <dt>Cost</dt>
          <dd>
            {formatCostUsd(usage.costUsd)}
            {budget.maxCostUsd !== undefined ? ` of ${formatCostUsd(budget.maxCostUsd)}` : ''}
          </dd>
        </div>
        <div>
          <dt>Tokens</dt>
          <dd>
            {formatTokens(usage.inputTokens)} in · {formatTokens(usage.outputTokens)} out
            {budget.maxTokens !== undefined ? ` of ${formatTokens(budget.maxTokens)}` : ''}
          </dd>
        </div>
        <div>
          <dt>Steps</dt>
          <dd>
            {usage.steps}
            {budget.maxSteps !== undefined ? ` of ${budget.maxSteps}` : ''}
          </dd>
        </div>
        {budget.maxWallMs !== undefined ? (
          <div>
            <dt>Time limit</dt>
            <dd>{formatDurationMs(budget.maxWallMs)}</dd>
          </div>
        ) : null}
      </dl>
      <div class="toolbar">
        {canStart(summary.status) ? (
          <button type="button" disabled={props.busy} onClick={props.onRun}>
            {summary.status === 'draft' ? 'Start run' : 'Run again'}
          </button>
        ) : null}
        {canStop(summary.status) ? (
          <button type="button" class="danger" disabled={props.busy} onClick={props.onStop}>
            Stop
          </button>
        ) : null}
        {evidence ? (
          <Link class="button quiet" href={`/tickets/${encodeURIComponent(ticket.id)}/evidence`}>
            Evidence
          </Link>
        ) : null}
      </div>
    </header>
  );
}
