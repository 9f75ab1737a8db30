import type { RefObject } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { Ticket } from '../../api/tickets.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { useAction } from '../components/use-action.ts';
import { formatCostUsd } from '../format/format-cost-usd.ts';
import { canStart, canStop } from './ticket-columns.ts';

/**
 * One ticket on the board: what it is, whose project, which role and model, and what it cost.
 * `movedFocus` holds the id of the ticket whose Start or Stop was just pressed: its card moves
 * to another column (a new element in another list), and the new card takes the focus back.
 */
export function TicketCard(props: { ticket: Ticket; movedFocus: RefObject<string | undefined> }) {
  const { ticket, movedFocus } = props;
  const mags = useMags();
  const action = useAction();
  const card = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (movedFocus.current !== ticket.id) return;
    const element = card.current;
    // Only when the focus was lost with the old card: not when the person has moved on.
    if (!element || (document.activeElement && document.activeElement !== document.body)) return;
    movedFocus.current = undefined;
    element.querySelector<HTMLElement>('.ticket-card-actions button, .ticket-card-title')?.focus();
  }, [ticket.status]);
  // The card changes through the board's stream; the answer only ends the busy state.
  const act = (kind: 'starting' | 'stopping') => {
    movedFocus.current = ticket.id;
    return action.run(async () => {
      if (kind === 'starting') await mags.tickets.run(ticket.id);
      else await mags.tickets.stop(ticket.id, { reason: 'from the dashboard' });
    }, kind);
  };
  return (
    <li class="ticket-card card" data-ticket={ticket.id} ref={card}>
      <Link href={`/tickets/${encodeURIComponent(ticket.id)}`} class="ticket-card-title">
        {ticket.title}
      </Link>
      <div class="ticket-card-meta">
        <code>{ticket.id}</code>
        <StatusBadge status={ticket.status} />
      </div>
      <dl class="ticket-card-facts">
        <dt>Project</dt>
        <dd>{ticket.project}</dd>
        <dt>Role</dt>
        <dd>{ticket.role}</dd>
        <dt>Model</dt>
        <dd>{ticket.model ?? 'default'}</dd>
        <dt>Cost</dt>
        <dd>{formatCostUsd(ticket.usage.costUsd)}</dd>
      </dl>
      {canStart(ticket.status) || canStop(ticket.status) ? (
        <div class="ticket-card-actions">
          {canStart(ticket.status) ? (
            <button
              type="button"
              disabled={action.busy}
              aria-label={`Start ${ticket.title}`}
              onClick={() => act('starting')}
            >
              {action.running === 'starting' ? 'Starting…' : 'Start'}
            </button>
          ) : null}
          {canStop(ticket.status) ? (
            <button
              type="button"
              class="danger"
              disabled={action.busy}
              aria-label={`Stop ${ticket.title}`}
              onClick={() => act('stopping')}
            >
              {action.running === 'stopping' ? 'Stopping…' : 'Stop'}
            </button>
          ) : null}
        </div>
      ) : null}
      {action.error !== undefined ? <ErrorView error={action.error} /> : null}
    </li>
  );
}
