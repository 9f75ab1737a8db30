import type { TicketStatus } from '../../api/tickets.ts';

/**
 * The board's columns: every ticket status, in the order a ticket moves (a draft is queued, runs,
 * waits for review, may go back for changes, then ends approved, failed, stopped or closed).
 * A copy of the API's list (importing it would pull zod into the bundle); `Missing` below makes
 * the type check fail when the API gains a status this list lacks.
 */
export const boardStatuses = [
  'draft',
  'queued',
  'running',
  'awaiting_review',
  'changes_requested',
  'approved',
  'failed',
  'stopped',
  'closed',
] as const satisfies readonly TicketStatus[];

type Missing = Exclude<TicketStatus, (typeof boardStatuses)[number]>;
const everyStatusHasAColumn: Missing extends never ? true : Missing = true;
void everyStatusHasAColumn;

export const statusTitle = (status: TicketStatus) =>
  status.charAt(0).toUpperCase() + status.slice(1).replaceAll('_', ' ');

/** `POST /v1/tickets/{id}/run` takes a draft, failed or stopped ticket; `stop` a queued or running one. */
export const canStart = (status: TicketStatus) =>
  status === 'draft' || status === 'failed' || status === 'stopped';
export const canStop = (status: TicketStatus) => status === 'queued' || status === 'running';
