import type { TicketEvent } from '../api/tickets.ts';
import type { JobRecord, StateRepository, TriggerRecord } from '../state/state-repository.ts';
import { autoApproveIfMet } from './trigger-auto-approve.ts';
import type { TriggerFirer } from './trigger-firing.ts';
import type { TriggerTickets } from './trigger-work.ts';

/** What event triggers listen to on the jobs (the JobManager has it). */
export interface TriggerJobs {
  onFinished(listener: (record: JobRecord) => void): () => void;
}

/**
 * Fires `event` triggers from what happens in this server process: a ticket approved (through
 * TicketManager.onEvent) and a job failed (through JobManager.onFinished); approves the tickets
 * of `autoApprove` triggers when they reach review. A trigger never fires on its own ticket's
 * events, so a trigger on `ticket.approved` cannot feed itself.
 */
export class TriggerEvents {
  readonly #repository: StateRepository;
  readonly #tickets: TriggerTickets;
  readonly #jobs: TriggerJobs | undefined;
  readonly #firer: TriggerFirer;
  readonly #log: (line: string) => void;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: {
    repository: StateRepository;
    tickets: TriggerTickets;
    jobs?: TriggerJobs;
    firer: TriggerFirer;
    log: (line: string) => void;
  }) {
    this.#repository = options.repository;
    this.#tickets = options.tickets;
    this.#jobs = options.jobs;
    this.#firer = options.firer;
    this.#log = options.log;
  }

  start(): void {
    this.#unsubscribe.push(
      this.#tickets.onEvent((ticketId, event) => this.#onTicketEvent(ticketId, event)),
    );
    if (this.#jobs) {
      this.#unsubscribe.push(
        this.#jobs.onFinished((record) => {
          if (record.status === 'failed') this.#track(this.#jobFailed(record));
        }),
      );
    }
  }

  stop(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }

  /** Resolves when what the events so far set off is done. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #onTicketEvent(ticketId: string, event: TicketEvent): void {
    if (event.data.type !== 'status') return;
    if (event.data.to === 'approved') this.#track(this.#ticketApproved(ticketId));
    if (event.data.to === 'awaiting_review') {
      this.#track(
        autoApproveIfMet(ticketId, {
          repository: this.#repository,
          tickets: this.#tickets,
          log: this.#log,
        }),
      );
    }
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => {
      this.#log(`triggers: ${(error as Error).message}`);
    });
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }

  async #ticketApproved(ticketId: string): Promise<void> {
    const listening = await this.#listening('ticket.approved');
    if (listening.length === 0) return;
    // The approval's event comes before its record (branch, commit) is written: on PostgreSQL a
    // read here would find the record still awaiting review.
    await this.#tickets.settled?.(ticketId);
    // The event names no owner: the ticket is looked up as each listening owner's (ids are unique).
    for (const owner of new Set(listening.map((trigger) => trigger.owner))) {
      const ticket = await this.#repository.getTicket(owner, ticketId);
      if (!ticket) continue;
      // The chain of triggers that led to this ticket: its own firing's, or its plan's.
      const origin =
        (await this.#repository.firingOfTicket(ticketId)) ??
        (ticket.plan ? await this.#repository.firingOfPlan(ticket.plan) : undefined);
      const payload = {
        ticket: ticket.id,
        title: ticket.title,
        project: ticket.project,
        branch: ticket.branch,
        commit: ticket.commit,
      };
      for (const trigger of listening) {
        if (trigger.owner !== owner) continue;
        const event = trigger.spec.event;
        if (event?.type !== 'ticket.approved') continue;
        if (event.project && event.project !== ticket.project) continue;
        await this.#firer.fire(trigger, {
          source: 'event',
          payload,
          event: { type: 'ticket.approved', ...payload },
          origin: origin?.chain ?? [],
        });
      }
    }
  }

  async #jobFailed(record: JobRecord): Promise<void> {
    const listening = (await this.#listening('job.failed')).filter((trigger) => {
      const event = trigger.spec.event;
      return (
        trigger.owner === record.owner &&
        event?.type === 'job.failed' &&
        (!event.workspace || event.workspace === record.workspace)
      );
    });
    const payload = {
      job: record.id,
      workspace: record.workspace,
      // A string command runs as `/bin/sh -c COMMAND`: the command is what the person typed.
      command:
        record.argv[0] === '/bin/sh' && record.argv[1] === '-c' && record.argv.length === 3
          ? record.argv[2]
          : record.argv.join(' '),
      exitCode: record.exitCode,
      reason: record.message ?? record.reason,
    };
    for (const trigger of listening) {
      await this.#firer.fire(trigger, {
        source: 'event',
        payload,
        event: { type: 'job.failed', ...payload },
      });
    }
  }

  async #listening(type: string): Promise<TriggerRecord[]> {
    const triggers = await this.#repository.listTriggers({ kind: 'event' });
    return triggers.filter((trigger) => trigger.spec.event?.type === type);
  }
}
