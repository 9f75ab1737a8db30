import { useRef } from 'preact/hooks';
import type { Ticket } from '../../api/tickets.ts';
import { TicketCard } from './ticket-card.tsx';
import { boardStatuses, statusTitle } from './ticket-columns.ts';

/** A column per status in the order a ticket moves; an empty one shrinks to its heading. */
export function BoardColumns(props: { tickets: Ticket[] }) {
  const movedFocus = useRef<string | undefined>(undefined);
  return (
    <div class="board-columns">
      {boardStatuses.map((status) => {
        const inColumn = props.tickets.filter((ticket) => ticket.status === status);
        const headingId = `column-${status}`;
        return (
          <section
            key={status}
            class={`board-column${inColumn.length === 0 ? ' empty' : ''}`}
            aria-labelledby={headingId}
            data-status={status}
          >
            <h2 id={headingId}>
              {statusTitle(status)} <span class="count">{inColumn.length}</span>
            </h2>
            {inColumn.length > 0 ? (
              <ul class="board-cards">
                {inColumn.map((ticket) => (
                  <TicketCard key={ticket.id} ticket={ticket} movedFocus={movedFocus} />
                ))}
              </ul>
            ) : null}
          </section>
        );
      })}
    </div>
  );
}
