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

/**
 * What an attempt about to start is told from the ticket's log, so that nothing a person wrote
 * is lost to a step that had already begun, the evidence phase, a budget stop, or a restart:
 * - `comments`: the comments the agent has not seen, i.e. those after the last `usage` event
 *   (the end of the last model step; an agent takes comments at the start of each step). One
 *   posted while the last step ran counts as seen by it; one taken by a step that never ended is
 *   given again.
 * - `feedback`: the request-changes text that queued it, when no model step came since (the
 *   comment just before the last `changes_requested` status event); not repeated as a comment.
 */
export function unseenComments(events: readonly TicketEvent[]): {
  comments: string[];
  feedback?: string;
} {
  let start = 0;
  for (let index = events.length - 1; index >= 0; index--) {
    if (events[index]?.data.type === 'usage') {
      start = index + 1;
      break;
    }
  }
  const after = events.slice(start);
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
  const comments: string[] = [];
  let feedback: string | undefined;
  after.forEach((event, index) => {
    if (event.data.type !== 'comment') return;
    if (index === feedbackIndex) feedback = event.data.text;
    else comments.push(event.data.text);
  });
  return feedback === undefined ? { comments } : { comments, feedback };
}
