import type { Evidence } from '../api/tickets.ts';
import type { StateRepository } from '../state/state-repository.ts';
import type { TriggerTickets } from './trigger-work.ts';

/**
 * A ticket of an `autoApprove` trigger that reached review is approved when its latest evidence
 * says every criterion is `met` (verified by running its check, never on the agent's word) and
 * the tests did not fail; otherwise it waits for a person, as any ticket does.
 */
export async function autoApproveIfMet(
  ticketId: string,
  services: {
    repository: StateRepository;
    tickets: TriggerTickets;
    log: (line: string) => void;
  },
): Promise<boolean> {
  const firing = await services.repository.firingOfTicket(ticketId);
  if (!firing) return false;
  const trigger = await services.repository.getTriggerById(firing.trigger);
  // A paused trigger approves nothing: pausing is how a person takes the decisions back.
  if (!trigger?.spec.autoApprove || trigger.paused) return false;
  const evidence = await services.tickets.evidence(trigger.owner, ticketId);
  const why = whyNotApproved(evidence);
  if (why) {
    services.log(`trigger ${trigger.name}: ticket ${ticketId} waits for a person: ${why}`);
    return false;
  }
  await services.tickets.approve(trigger.owner, ticketId, {
    message: `Approved by trigger ${trigger.name}: every criterion verified met, tests passed.`,
  });
  return true;
}

/** Why the evidence is not enough to approve without a person; null when it is. */
export function whyNotApproved(evidence: Evidence): string | null {
  if (evidence.criteria.length === 0) return 'no criteria';
  const unmet = evidence.criteria.find((criterion) => criterion.status !== 'met');
  if (unmet) return `criterion ${unmet.criterion + 1} is ${unmet.status}`;
  const tests = evidence.tests;
  if (tests && (tests.timedOut || tests.exitCode !== 0)) {
    return tests.timedOut ? 'the tests timed out' : `the tests exited with ${tests.exitCode}`;
  }
  return null;
}
