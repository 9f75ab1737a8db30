import type { TicketEvent } from '../api/tickets.ts';
import type { StateRepository } from '../state/state-repository.ts';

const pageSize = 1000;

/** Every stored event of a ticket, oldest first. */
export async function readAllTicketEvents(
  repository: StateRepository,
  id: string,
): Promise<TicketEvent[]> {
  const events: TicketEvent[] = [];
  for (;;) {
    const page = await repository.readTicketEvents(id, events.at(-1)?.id ?? 0, pageSize);
    events.push(...page);
    if (page.length < pageSize) return events;
  }
}

/** A person's comment as an attempt is given it: its event's id, and its text. */
export interface PendingComment {
  id: number;
  text: string;
}

/**
 * What an attempt about to start is told from the ticket's log: the events after
 * `deliveredThrough` (`TicketRecord.commentsDeliveredThrough`, stored with the history that holds
 * everything up to it), so that nothing a person wrote is lost to a step that had already begun,
 * the evidence phase, a budget stop or a restart, nor given twice after a stop or a provider error:
 * - `comments`: the comments after it, oldest first;
 * - `feedback`: the request-changes text that queued it (the comment just before the last
 *   `changes_requested` status event), if it is after it too; not repeated as a comment.
 */
export function unseenComments(
  events: readonly TicketEvent[],
  deliveredThrough = 0,
): { comments: PendingComment[]; feedback?: PendingComment } {
  const after = events.filter((event) => event.id > deliveredThrough);
  let feedbackIndex = -1;
  for (let index = after.length - 1; index >= 0; index--) {
    const data = after[index]?.data;
    if (data?.type === 'status' && data.to === 'changes_requested') {
      for (let before = index - 1; before >= 0; before--) {
        if (after[before]?.data.type === 'comment') {
          feedbackIndex = before;
          break;
        }
      }
      break;
    }
  }
  const comments: PendingComment[] = [];
  let feedback: PendingComment | undefined;
  after.forEach((event, index) => {
    if (event.data.type !== 'comment') return;
    const comment = { id: event.id, text: event.data.text };
    if (index === feedbackIndex) feedback = comment;
    else comments.push(comment);
  });
  return feedback === undefined ? { comments } : { comments, feedback };
}
