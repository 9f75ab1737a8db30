import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { JobIdSchema } from '../api/schemas.ts';
import { TicketIdSchema } from '../api/tickets.ts';
import { InvalidInputError, MagsError, NotFoundError } from '../errors/mags-error.ts';
import type { Mags } from '../sdk/mags.ts';
import { jobLogCapBytes, jobLogText } from './job-log-text.ts';
import { jobLogUri } from './job-log-uri.ts';
import { ticketEventsCap, ticketEventsJson } from './ticket-events-json.ts';
import { toolHintFor } from './tool-error-hints.ts';

export { jobLogCapBytes };

/** MCP's code for a resource that does not exist (the spec's "Resource not found"). */
const resourceNotFound = -32002;

export const ticketEvidenceUri = (ticketId: string) =>
  `mags://tickets/${encodeURIComponent(ticketId)}/evidence`;

/**
 * A failed read as the JSON-RPC error's code, message and data. Not an McpError: that one puts
 * "MCP error CODE: " into its own message, which the SDK's protocol sends as it is and the
 * client prefixes again, so every client would read the prefix twice.
 */
class ResourceReadError extends Error {
  readonly code: number;
  readonly data: Record<string, unknown>;
  constructor(code: number, message: string, data: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

/**
 * Where a resource's reader is better told something else than a tool's caller: the tools'
 * hints (tool-error-hints.ts) serve every other code.
 */
const resourceHints: Record<string, string> = {
  job_not_found:
    "run_command's result names its job id; resources/list lists your recent jobs' logs.",
  evidence_not_found:
    'It comes when an attempt ends: ticket_events with follow: true waits for that (a draft ' +
    'starts with ticket_run).',
};

/**
 * The hint a resource error shows: ours, else the tools', else the API's unless it names a CLI
 * command (`mags list`) that a client of these resources does not have.
 */
function resourceHint(error: MagsError): string | undefined {
  const hint = resourceHints[error.code] ?? toolHintFor(error) ?? error.hint;
  return hint && !/\bmags [a-z]/.test(hint) ? hint : undefined;
}

/**
 * Resources have no `isError`: a failed read is a JSON-RPC error. The API's error keeps its
 * words; a missing (or another owner's: the API does not tell them apart) resource is MCP's
 * "not found" code.
 */
function resourceError(uri: string, error: unknown): ResourceReadError {
  if (error instanceof MagsError) {
    const hint = resourceHint(error);
    const text = `${error.message}${hint ? ` (${hint})` : ''}`;
    const code = error instanceof NotFoundError ? resourceNotFound : ErrorCode.InvalidParams;
    return new ResourceReadError(code, `${uri}: ${text}`, { uri, code: error.code });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ResourceReadError(ErrorCode.InternalError, `${uri}: ${message}`, { uri });
}

async function read(
  uri: URL,
  body: () => Promise<ReadResourceResult>,
): Promise<ReadResourceResult> {
  try {
    return await body();
  } catch (error) {
    throw resourceError(uri.href, error);
  }
}

/** One template variable as a string (a template may match a list: take the first). */
const variable = (value: string | string[] | undefined) =>
  decodeURIComponent(Array.isArray(value) ? (value[0] ?? '') : (value ?? ''));

/**
 * An id checked by the API's own schema before it goes into a request path: "." or ".." there
 * would be resolved by URL parsing and reach another route of the same owner.
 */
function checkedId(schema: typeof JobIdSchema | typeof TicketIdSchema, value: string): string {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InvalidInputError(`${JSON.stringify(value)}: ${parsed.error.issues[0]?.message}.`);
}

/** A `{?offset}` / `{?after}` variable: absent is 0, else a whole number. */
function count(name: string, value: string | string[] | undefined): number {
  if (value === undefined) return 0;
  const text = variable(value);
  if (!/^\d{1,15}$/.test(text)) {
    throw new InvalidInputError(`${name} must be a whole number, not ${JSON.stringify(text)}.`);
  }
  return Number(text);
}

/** Resources: a job's log, a ticket's evidence and events (`mags://...` URIs). */
export function registerMcpResources(server: McpServer, client: Mags): void {
  const readJobLog = (uri: URL, variables: Record<string, string | string[]>) =>
    read(uri, async () => {
      const jobId = checkedId(JobIdSchema, variable(variables.jobId));
      const text = await jobLogText(client, jobId, count('offset', variables.offset));
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
    });
  const jobLogDescription =
    'The stored output of a job (a run_command or a run), stdout and stderr interleaved as ' +
    `they came, at most ${jobLogCapBytes} bytes per read (cut on a character boundary) with a ` +
    'note naming the resource that reads on: mags://jobs/{jobId}/log?offset=N, N a byte offset.';
  server.registerResource(
    'job-log',
    new ResourceTemplate('mags://jobs/{jobId}/log', {
      // The owner's recent jobs: one API call, so listing stays cheap.
      list: async () => {
        const { jobs } = await client.jobs.list({ limit: 20 });
        return {
          resources: jobs.map((job) => ({
            uri: jobLogUri(job.id),
            name: `job ${job.id} log`,
            description: `${job.status}: ${JSON.stringify(job.command).slice(0, 200)}`,
            mimeType: 'text/plain',
          })),
        };
      },
    }),
    { title: "A job's output", description: jobLogDescription, mimeType: 'text/plain' },
    readJobLog,
  );
  // The SDK matches `{?offset}` only when the query is there: the plain URI is the one above.
  server.registerResource(
    'job-log-from-offset',
    new ResourceTemplate('mags://jobs/{jobId}/log{?offset}', { list: undefined }),
    {
      title: "A job's output from a byte offset",
      description: jobLogDescription,
      mimeType: 'text/plain',
    },
    readJobLog,
  );

  const ticketsWithAttempts = async () =>
    (await client.tickets.list()).filter((t) => t.attempt > 0);

  server.registerResource(
    'ticket-evidence',
    new ResourceTemplate('mags://tickets/{ticketId}/evidence', {
      list: async () => ({
        resources: (await ticketsWithAttempts()).map((ticket) => ({
          uri: ticketEvidenceUri(ticket.id),
          name: `ticket ${ticket.id} evidence`,
          description: `${ticket.status}: ${ticket.title}`,
          mimeType: 'application/json',
        })),
      }),
    }),
    {
      title: "A ticket's evidence",
      description:
        "The evidence of a ticket's latest attempt as JSON: each criterion's check result and the agent's claim, the test run, the diff and its stat, usage, the timeline.",
      mimeType: 'application/json',
    },
    (uri, variables) =>
      read(uri, async () => {
        const ticketId = checkedId(TicketIdSchema, variable(variables.ticketId));
        const evidence = await client.tickets.evidence(ticketId);
        const text = JSON.stringify(evidence, null, 2);
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text }] };
      }),
  );

  const readTicketEvents = (uri: URL, variables: Record<string, string | string[]>) =>
    read(uri, async () => {
      const ticketId = checkedId(TicketIdSchema, variable(variables.ticketId));
      const text = await ticketEventsJson(client, ticketId, count('after', variables.after));
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text }] };
    });
  const ticketEventsDescription =
    "A ticket's stored events in order as JSON ({ events, nextAfter, more, next }): status " +
    'changes, model text, tool calls and results, commands with their output, file changes, ' +
    `checks. At most ${ticketEventsCap.events} events or ${ticketEventsCap.chars} characters ` +
    'per read; `next` names the resource of the rest: mags://tickets/{ticketId}/events?after=N.';
  server.registerResource(
    'ticket-events',
    new ResourceTemplate('mags://tickets/{ticketId}/events', { list: undefined }),
    {
      title: "A ticket's events",
      description: ticketEventsDescription,
      mimeType: 'application/json',
    },
    readTicketEvents,
  );
  server.registerResource(
    'ticket-events-after',
    new ResourceTemplate('mags://tickets/{ticketId}/events{?after}', { list: undefined }),
    {
      title: "A ticket's events after an event id",
      description: ticketEventsDescription,
      mimeType: 'application/json',
    },
    readTicketEvents,
  );
}
