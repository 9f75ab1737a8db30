import type { TicketEvent, TicketEventData } from '../../api/tickets.ts';
import type { StateRow } from './row-values.ts';

export function toTicketEvent(row: StateRow): TicketEvent {
  return {
    id: Number(row.id),
    attempt: Number(row.attempt),
    at: String(row.at),
    data: JSON.parse(String(row.data)) as TicketEventData,
  };
}
