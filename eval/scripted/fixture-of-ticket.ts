import type { Fixture } from '../fixture.ts';

/**
 * Which fixture a ticket is, from the ticket's text as the agent sees it (its title is unique
 * among the fixtures). A scripted model has nothing else to go on: it sees only the prompt.
 */
export function fixtureOfTicket(fixtures: readonly Fixture[], ticketText: string): Fixture {
  const found = fixtures.filter((fixture) => ticketText.includes(fixture.ticket.title));
  if (found.length !== 1) {
    throw new Error(
      `The scripted model cannot tell which fixture this ticket is (${found.length} titles match): it only works the evaluation fixtures' tickets.`,
    );
  }
  return found[0] as Fixture;
}

/** A `finish` claiming every criterion of the fixture met. */
export function finishClaimingAll(fixture: Fixture, summary: string) {
  return {
    tool: 'finish',
    input: {
      summary,
      // Criteria are numbered from 1, as the ticket's prompt lists them.
      claims: fixture.ticket.criteria.map((_, index) => ({
        criterion: index + 1,
        met: true,
        note: 'done',
      })),
    },
  };
}
