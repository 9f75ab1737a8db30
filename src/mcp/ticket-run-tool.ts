import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Mags } from '../sdk/mags.ts';
import { budgetFromInputs, budgetInputs, ticketIdInput } from './ticket-tool-schemas.ts';
import { jsonResult, toolResult } from './tool-result.ts';

const followNext = 'Follow it with ticket_events (follow: true); review it with ticket_evidence.';

/**
 * ticket_run: starts a draft (ticket_create with run: false) or a new attempt of a failed or
 * stopped ticket, so no ticket state needs a command the model does not have.
 */
export function registerTicketRunTool(
  server: McpServer,
  client: Mags,
  ticketLine: (ticket: Awaited<ReturnType<Mags['tickets']['get']>>) => string,
): void {
  server.registerTool(
    'ticket_run',
    {
      title: 'Start a ticket (a draft, or a new attempt)',
      description:
        'Queues the next attempt of a ticket that is a draft (ticket_create with run: false), ' +
        'failed or stopped: its agent starts again in its own sandbox. Budget values given here ' +
        "are merged into the ticket's (to raise a limit it hit, e.g. maxSteps). Any other " +
        'status is an error (ticket_status): a ticket awaiting review is reviewed with ' +
        'ticket_evidence instead.',
      inputSchema: z.strictObject({ ticketId: ticketIdInput, ...budgetInputs }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    },
    (input) =>
      toolResult(async () => {
        const budget = budgetFromInputs(input);
        const ticket = await client.tickets.run(input.ticketId, budget ? { budget } : {});
        const text = `Started ${ticketLine(ticket)}. ${followNext}`;
        return jsonResult(text, { ticket, next: followNext });
      }),
  );
}

export { followNext };
