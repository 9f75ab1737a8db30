/**
 * The oracle: makes the fixture's known fix (write_file with each fixed file's whole content),
 * runs the project's tests once like a careful developer, and finishes claiming every criterion.
 * With it the suite must grade FULL on every fixture: what is measured is the platform.
 */
import type { Fixture } from '../fixture.ts';
import { finishClaimingAll, fixtureOfTicket } from './fixture-of-ticket.ts';
import { type ScriptedStep, scriptedModel } from './scripted-model.ts';

export function oracleModel(fixtures: readonly Fixture[]) {
  return scriptedModel(
    ({ step, ticketText }): ScriptedStep => {
      const fixture = fixtureOfTicket(fixtures, ticketText);
      const write = fixture.fix[step];
      if (write) {
        return {
          text: step === 0 ? `Applying the fix to ${fixture.fix.length} file(s).` : undefined,
          toolCalls: [
            {
              tool: 'write_file',
              input: { path: write.path, content: write.content.toString('utf8') },
            },
          ],
        };
      }
      if (step === fixture.fix.length) {
        return { toolCalls: [{ tool: 'run_command', input: { command: 'node --test' } }] };
      }
      return {
        toolCalls: [finishClaimingAll(fixture, `Fixed: ${fixture.ticket.title}.`)],
      };
    },
    { modelId: 'oracle' },
  );
}
