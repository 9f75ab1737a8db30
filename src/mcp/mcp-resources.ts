import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { MagsError, NotFoundError } from '../errors/mags-error.ts';
import type { Mags } from '../sdk/mags.ts';
import { jobLogUri } from './job-log-uri.ts';

/** The most of a job's log one read returns: a model's context is the limit, not the store's. */
export const jobLogCapBytes = 1024 * 1024;

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
 * Resources have no `isError`: a failed read is a JSON-RPC error. The API's error keeps its
 * words and hint; a missing (or another owner's: the API does not tell them apart) resource is
 * MCP's "not found" code.
 */
function resourceError(uri: string, error: unknown): ResourceReadError {
  if (error instanceof MagsError) {
    const text = `${error.message}${error.hint ? ` (${error.hint})` : ''}`;
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

/** A job's output, stdout and stderr interleaved as they came, up to `jobLogCapBytes`. */
async function jobLog(client: Mags, jobId: string): Promise<string> {
  const job = await client.jobs.get(jobId);
  if (job.logsRemovedAt) {
    return `The output of job ${jobId} was removed at ${job.logsRemovedAt}: ${job.logsRemovedReason ?? 'log retention'}.`;
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const stop = new AbortController();
  try {
    await client.jobs.logs(jobId, {
      follow: false,
      signal: stop.signal,
      onOutput: (_stream, data) => {
        if (bytes >= jobLogCapBytes) return;
        const kept = data.subarray(0, jobLogCapBytes - bytes);
        chunks.push(kept);
        bytes += kept.length;
        // Enough: the rest stays in the store, named in the note below.
        if (bytes >= jobLogCapBytes) stop.abort();
      },
    });
  } catch (error) {
    if (!stop.signal.aborted) throw error;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const notes: string[] = [];
  const running = job.status === 'queued' || job.status === 'running';
  // A running job's size was read before its output: it may have grown past the cap since.
  if (bytes >= jobLogCapBytes && (job.logBytes > bytes || running)) {
    const total = job.logBytes > bytes ? `${job.logBytes}` : `more than ${bytes}`;
    notes.push(
      `[mags: the log is capped here at ${bytes} of ${total} bytes; the rest from byte ` +
        `offset ${bytes}: \`mags logs ${jobId} --offset ${bytes}\`, or GET /v1/jobs/${jobId}/logs?offset=${bytes}]`,
    );
  }
  if (running) {
    notes.push(`[mags: job ${jobId} is still ${job.status}; read again for more output]`);
  }
  return notes.length > 0
    ? `${text}${text.endsWith('\n') || !text ? '' : '\n'}${notes.join('\n')}\n`
    : text;
}

/** Resources: a job's log, a ticket's evidence and events (`mags://...` URIs). */
export function registerMcpResources(server: McpServer, client: Mags): void {
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
    {
      title: "A job's output",
      description:
        'The full stored output of a job (a run_command or a run), stdout and stderr interleaved as they came. Capped at 1 MiB with a note naming the offset of the rest (`mags logs JOB_ID --offset N`).',
      mimeType: 'text/plain',
    },
    (uri, variables) =>
      read(uri, async () => {
        const text = await jobLog(client, variable(variables.jobId));
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
      }),
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
        const evidence = await client.tickets.evidence(variable(variables.ticketId));
        const text = JSON.stringify(evidence, null, 2);
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text }] };
      }),
  );

  server.registerResource(
    'ticket-events',
    new ResourceTemplate('mags://tickets/{ticketId}/events', { list: undefined }),
    {
      title: "A ticket's events",
      description:
        'Every event of a ticket so far as a JSON array, in order (status changes, model text, tool calls and results, commands with their output, file changes, checks).',
      mimeType: 'application/json',
    },
    (uri, variables) =>
      read(uri, async () => {
        const events = [];
        for await (const event of client.tickets.events(variable(variables.ticketId))) {
          events.push(event);
        }
        const text = JSON.stringify(events, null, 2);
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text }] };
      }),
  );
}
