import { canTakeOver, type ServerInstance } from '../config/server-instance.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { StateRepository } from '../state/state-repository.ts';
import { serverStoppedReason, stopTicketSandbox } from './ticket-attempt.ts';
import type { TicketLock } from './ticket-lock.ts';
import type { TicketQueue } from './ticket-queue.ts';
import type { TicketRecorder } from './ticket-recorder.ts';

/**
 * The tickets a gone server process of this host left queued, running or (older servers) in
 * `changes_requested` (a live one's, another host's and this process's own are left alone). A
 * queued one is queued here; one in changes_requested gets the attempt it was promised; a running
 * one fails with `serverStoppedReason`: its agent's conversation is not durable in the middle of
 * a step, and pretending to continue it would not be honest. No evidence is assembled for it,
 * and its sandbox (found running again by the sandboxes' own recovery) is stopped.
 * Each under the ticket's lock, after reading it again.
 */
export async function recoverTickets(options: {
  repository: StateRepository;
  sandboxes: SandboxManager;
  instance: ServerInstance;
  lock: TicketLock;
  recorder: TicketRecorder;
  queue: TicketQueue;
  log(line: string): void;
}): Promise<{ queued: number; failed: number }> {
  const { repository, instance, recorder, queue } = options;
  const report = { queued: 0, failed: 0 };
  const left = await repository.ticketsInStatus(['queued', 'running', 'changes_requested']);
  for (const found of left) {
    try {
      await options.lock.run(found.id, async () => {
        const ticket = await repository.getTicket(found.owner, found.id);
        if (!ticket || ticket.status !== found.status || !canTakeOver(ticket, instance)) return;
        if (ticket.status === 'queued') {
          const mine = { host: instance.host, server: instance.server };
          await repository.updateTicket(ticket.id, mine);
          queue.schedule({ ...ticket, ...mine });
          report.queued++;
        } else if (ticket.status === 'changes_requested') {
          try {
            await queue.queueAttempt(ticket);
            report.queued++;
          } catch (error) {
            // Its model or role is off now: it must not wait for an attempt that never comes.
            const reason = `the requested changes could not be queued: ${(error as Error).message}`;
            await recorder.transition(ticket, 'failed', reason);
            report.failed++;
          }
        } else {
          await stopTicketSandbox(options, ticket, 'its ticket failed: the server stopped');
          await recorder.transition(ticket, 'failed', serverStoppedReason);
          report.failed++;
        }
      });
    } catch (error) {
      options.log(`cannot recover ticket ${found.id}: ${(error as Error).message}`);
    }
  }
  return report;
}
