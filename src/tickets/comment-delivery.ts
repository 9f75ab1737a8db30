import type { PendingComment } from './unseen-comments.ts';

/**
 * Which of a ticket's comments its running agent has been given, as the one number stored with
 * the history it is in (`TicketRecord.commentsDeliveredThrough`). agent-v1 puts what
 * `takeComments` returns into its conversation at once (`AgentSession.takeComments`), so the
 * history it saves next, or ends with, holds every comment taken before — and the feedback it
 * started with — but none still waiting to be taken.
 */
export class CommentDelivery {
  /** Every comment up to this event id has been handed to the agent. */
  #given: number;
  /** The comments not taken yet, oldest first (the attempt's list, which new comments join). */
  readonly #pending: PendingComment[];

  constructor(pending: PendingComment[], deliveredThrough: number, feedback?: PendingComment) {
    this.#pending = pending;
    this.#given = Math.max(deliveredThrough, feedback?.id ?? 0);
  }

  /** The comments waiting, oldest first, each handed out once (`AgentSession.takeComments`). */
  take(): string[] {
    const taken = this.#pending.splice(0);
    const last = taken.at(-1);
    if (last) this.#given = Math.max(this.#given, last.id);
    return taken.map((comment) => comment.text);
  }

  /**
   * The event id through which every comment is in the agent's conversation now: what it was
   * handed, but not past a comment still waiting (one older than the feedback, say).
   */
  through(): number {
    const waiting = this.#pending[0];
    return waiting ? Math.min(this.#given, waiting.id - 1) : this.#given;
  }
}
