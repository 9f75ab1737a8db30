import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { type Ticket, ticketStatuses } from '../api/tickets.ts';
import type { Mags } from '../sdk/mags.ts';
import { ticketEvidenceUri } from './mcp-resources.ts';
import { evidenceSummary } from './ticket-event-line.ts';
import { followTicketForModel } from './ticket-follow.ts';
import { followNext, registerTicketRunTool } from './ticket-run-tool.ts';
import {
  budgetFromInputs,
  budgetInputs,
  criteriaInput,
  projectInput,
  ticketIdInput as ticketId,
} from './ticket-tool-schemas.ts';
import { jsonResult, toolResult } from './tool-result.ts';

/** A ticket in a few lines: what it is, where it stands, what it cost. */
export function ticketLine(ticket: Ticket): string {
  return (
    `${ticket.id} [${ticket.status}${ticket.reason ? `: ${ticket.reason}` : ''}] ` +
    `"${ticket.title}" (project ${ticket.project}, attempt ${ticket.attempt}, ` +
    `${ticket.usage.steps} steps, $${ticket.usage.costUsd.toFixed(4)})`
  );
}

/**
 * Tickets through the SDK (`client.tickets`): a request with acceptance criteria, worked by an
 * agent in its own sandbox on a fork of a project's workspace, then checked by the platform.
 */
export function registerTicketTools(server: McpServer, client: Mags): void {
  server.registerTool(
    'ticket_create',
    {
      title: 'Create a ticket for a background agent',
      description:
        "Hands a task to mags's own background agent: it works in its own sandbox on a fork of " +
        "the project's workspace, then the platform runs each criterion's check command and the " +
        "project's tests and assembles evidence for review. Needs a project that exists " +
        '(a person makes one with `mags project create`; no tool does). Starts at once (status ' +
        'queued) unless run is false (a draft, started later with ticket_run). Follow it with ' +
        'ticket_events (follow: true) and review it with ticket_evidence.',
      inputSchema: z.strictObject({
        project: projectInput('The project the work is on'),
        title: z.string().min(1).max(500).describe('A short title (at most 500 characters).'),
        request: z
          .string()
          .min(1)
          .max(200_000)
          .describe(
            'What to do, in full (at most 200,000 characters): the agent reads only this and the repository.',
          ),
        criteria: criteriaInput,
        role: z
          .string()
          .min(1)
          .max(40)
          .optional()
          .describe("The project's role to work as; default: developer."),
        model: z
          .string()
          .min(3)
          .max(200)
          .optional()
          .describe(
            "provider:model, e.g. \"anthropic:claude-sonnet-4-5\"; default: the role's, the project's, then the server's.",
          ),
        ...budgetInputs,
        run: z
          .boolean()
          .default(true)
          .describe(
            'Start it at once (default true); false leaves a draft that ticket_run starts.',
          ),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    },
    (input) =>
      toolResult(async () => {
        const budget = budgetFromInputs(input);
        const ticket = await client.tickets.create({
          project: input.project,
          title: input.title,
          request: input.request,
          criteria: input.criteria,
          ...(input.role !== undefined && { role: input.role }),
          ...(input.model !== undefined && { model: input.model }),
          ...(budget && { budget }),
          run: input.run,
        });
        const next =
          ticket.status === 'draft'
            ? `It is a draft: start it with ticket_run (ticketId "${ticket.id}").`
            : followNext;
        return jsonResult(`Created ${ticketLine(ticket)}. ${next}`, { ticket, next });
      }),
  );

  server.registerTool(
    'ticket_list',
    {
      title: 'List tickets',
      description: "Lists the caller's tickets, newest first, optionally of one project or status.",
      inputSchema: z.strictObject({
        project: projectInput("Only this project's tickets").optional(),
        status: z.enum(ticketStatuses).optional().describe('Only tickets in this status.'),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ project, status }) =>
      toolResult(async () => {
        const tickets = await client.tickets.list({ project, status });
        const text = tickets.length > 0 ? tickets.map(ticketLine).join('\n') : 'No tickets.';
        return jsonResult(text, { tickets });
      }),
  );

  server.registerTool(
    'ticket_get',
    {
      title: 'Get a ticket',
      description:
        'A ticket: its request, criteria, status (draft, queued, running, awaiting_review, ' +
        'approved, changes_requested, closed, failed, stopped) and why, attempt, usage and workspace.',
      inputSchema: z.strictObject({ ticketId }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ ticketId: id }) =>
      toolResult(async () => {
        const ticket = await client.tickets.get(id);
        const criteria = ticket.criteria.map(
          (criterion, index) =>
            `  ${index + 1}. ${criterion.text}${criterion.check ? ` (check: ${criterion.check})` : ''}`,
        );
        const text = [
          ticketLine(ticket),
          `Request: ${ticket.request}`,
          'Criteria:',
          ...criteria,
        ].join('\n');
        return jsonResult(text, { ticket });
      }),
  );

  server.registerTool(
    'ticket_events',
    {
      title: "Read or follow a ticket's events",
      description:
        "What the ticket's agent and the platform did, in order, one line each (status changes, " +
        'model text, tool calls, commands with exit codes and output excerpts, file changes, ' +
        'checks). Returns up to maxEvents events after the `after` cursor and `nextAfter`, the ' +
        'cursor to pass next time, so repeated calls poll without repeats. With follow: true it ' +
        'waits for new events until the ticket awaits review or ends (or timeoutSeconds pass), ' +
        'sending each as a progress notification when the client asked for progress (progress: ' +
        'seconds waited; one every 15 s while the ticket is quiet); cancelling ' +
        'the call ends the wait. The raw events as JSON: resource mags://tickets/{ticketId}/events ' +
        '(?after=N for those after an event id).',
      inputSchema: z.strictObject({
        ticketId,
        after: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe('Only events with an id above this (default 0: from the first).'),
        follow: z
          .boolean()
          .default(false)
          .describe('Wait for new events until the ticket awaits review or ends (default false).'),
        maxEvents: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(200)
          .describe('At most this many events per call (default 200); the rest after nextAfter.'),
        timeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(3600)
          .optional()
          .describe(
            'With follow: return after this long even if the ticket still runs (default 1800 ' +
              'with progress notifications, 50 without, so a client waiting 60 s is not cut off).',
          ),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input, extra) =>
      toolResult(async () => {
        const progressToken = extra._meta?.progressToken;
        const followed = await followTicketForModel(client, {
          ticketId: input.ticketId,
          after: input.after,
          follow: input.follow,
          maxEvents: input.maxEvents,
          timeoutMs: (input.timeoutSeconds ?? (progressToken === undefined ? 50 : 1800)) * 1000,
          signal: extra.signal,
          onProgress:
            progressToken === undefined
              ? undefined
              : (progress, message) =>
                  extra.sendNotification({
                    method: 'notifications/progress',
                    params: { progressToken, progress, message: message.slice(0, 1000) },
                  }),
        });
        return jsonResult(followed.text, followed.value);
      }),
  );

  server.registerTool(
    'ticket_evidence',
    {
      title: "Review a ticket's evidence",
      description:
        'The evidence of an attempt (the latest by default), summarised: each acceptance ' +
        "criterion MET, NOT_MET or NEEDS_PERSON as the platform's check found it, beside the " +
        "agent's own claim; the tests' result and counts; the changed files; usage. The diff and " +
        `full logs: resource mags://tickets/{ticketId}/evidence. There is evidence once an ` +
        'attempt has ended (awaiting_review, failed, stopped).',
      inputSchema: z.strictObject({
        ticketId,
        attempt: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('The attempt, from 1 (default: the latest with evidence).'),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ ticketId: id, attempt }) =>
      toolResult(async () => {
        const evidence = await client.tickets.evidence(id, attempt);
        const criteria = evidence.criteria.map((result) => ({
          criterion: result.criterion + 1,
          text: result.text,
          status: result.status,
          exitCode: result.exitCode,
          claimedMet: result.claim?.met ?? null,
        }));
        const tests = evidence.tests && {
          command: evidence.tests.command,
          exitCode: evidence.tests.exitCode,
          timedOut: evidence.tests.timedOut,
          counts: evidence.tests.counts,
        };
        const text = `${evidenceSummary(evidence)}\nThe full evidence (diff, logs): ${ticketEvidenceUri(id)}`;
        // `summary` is the text above: clients that hand the model only the structured value
        // (Claude Code, Codex) must still show it the agent's summary and the failures' output.
        return jsonResult(text, {
          summary: text,
          ticket: evidence.ticket,
          attempt: evidence.attempt,
          agentEnd: evidence.agentEnd,
          allMet: criteria.every((criterion) => criterion.status === 'met'),
          criteria,
          tests,
          changedFiles: evidence.diffStat.files.map((file) => file.path),
          usage: evidence.usage,
          resource: ticketEvidenceUri(id),
        });
      }),
  );

  registerTicketRunTool(server, client, ticketLine);
}
