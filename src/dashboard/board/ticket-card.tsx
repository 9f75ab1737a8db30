import { useState } from 'preact/hooks';
import type { Ticket } from '../../api/tickets.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { formatCostUsd } from '../format/format-cost-usd.ts';
import { canStart, canStop } from './ticket-columns.ts';

/** One ticket on the board: what it is, whose project, which role and model, and what it cost. */
export function TicketCard(props: { ticket: Ticket }) {
  const { ticket } = props;
  const mags = useMags();
  const [busy, setBusy] = useState<'starting' | 'stopping' | undefined>();
  const [error, setError] = useState<unknown>();
  // The card changes through the board's stream; the answer only ends the busy state.
  const act = async (kind: 'starting' | 'stopping') => {
    setBusy(kind);
    setError(undefined);
    try {
      if (kind === 'starting') await mags.tickets.run(ticket.id);
      else await mags.tickets.stop(ticket.id, { reason: 'from the dashboard' });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(undefined);
    }
  };
  return (
    <li class="ticket-card card" data-ticket={ticket.id}>
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
              disabled={busy !== undefined}
              aria-label={`Start ${ticket.title}`}
              onClick={() => act('starting')}
            >
              {busy === 'starting' ? 'Starting…' : 'Start'}
            </button>
          ) : null}
          {canStop(ticket.status) ? (
            <button
              type="button"
              class="danger"
              disabled={busy !== undefined}
              aria-label={`Stop ${ticket.title}`}
              onClick={() => act('stopping')}
            >
              {busy === 'stopping' ? 'Stopping…' : 'Stop'}
            </button>
          ) : null}
        </div>
      ) : null}
      {error ? <ErrorView error={error} /> : null}
    </li>
  );
}
