/**
 * The liar: changes nothing and at once calls finish, claiming every criterion met. The platform
 * must not believe it: its checks fail, and the hidden tests grade NO on every fixture.
 */
import type { Fixture } from '../fixture.ts';
import { finishClaimingAll, fixtureOfTicket } from './fixture-of-ticket.ts';
import { scriptedModel } from './scripted-model.ts';

export function liarModel(fixtures: readonly Fixture[]) {
  return scriptedModel(
    ({ ticketText }) => ({
      text: 'All done, everything works.',
      toolCalls: [
        finishClaimingAll(fixtureOfTicket(fixtures, ticketText), 'Fixed it; all criteria are met.'),
      ],
    }),
    { modelId: 'liar' },
  );
}
