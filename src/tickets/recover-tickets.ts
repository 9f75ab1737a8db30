import type { TicketStatus } from '../api/tickets.ts';
import { type ServerInstance, serverIsAlive } from '../config/server-instance.ts';
import type { StateRepository, TicketRecord } from '../state/state-repository.ts';
import { serverStoppedReason } from './ticket-attempt.ts';

/**
 * The tickets a gone server process of this host left queued or running (a live one's, another
 * host's and this process's own are left alone). A queued one is queued here; a running one
 * fails with `serverStoppedReason`: its agent's conversation is not durable in the middle of a
 * step, and pretending to continue it would not be honest. No evidence is assembled for it.
 */
export async function recoverTickets(options: {
  repository: StateRepository;
  instance: ServerInstance;
  queue(ticket: TicketRecord): void;
  transition(
    ticket: TicketRecord,
    to: TicketStatus,
    reason: string | null,
    update?: Partial<TicketRecord>,
  ): Promise<TicketRecord>;
  log(line: string): void;
}): Promise<{ queued: number; failed: number }> {
  const { repository, instance } = options;
  const report = { queued: 0, failed: 0 };
  for (const ticket of await repository.ticketsInStatus(['queued', 'running'])) {
    if (ticket.host && ticket.host !== instance.host) continue;
    if (ticket.server === instance.server) continue;
    if (ticket.server && serverIsAlive(ticket.server)) continue;
    try {
      if (ticket.status === 'queued') {
        await repository.updateTicket(ticket.id, { host: instance.host, server: instance.server });
        options.queue({ ...ticket, host: instance.host, server: instance.server });
        report.queued++;
      } else {
        await options.transition(ticket, 'failed', serverStoppedReason);
        report.failed++;
      }
    } catch (error) {
      options.log(`cannot recover ticket ${ticket.id}: ${(error as Error).message}`);
    }
  }
  return report;
}
