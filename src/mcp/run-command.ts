import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Job } from '../api/schemas.ts';
import { MagsError } from '../errors/mags-error.ts';
import type { Mags } from '../sdk/mags.ts';
import { jobLogUri } from './job-log-uri.ts';
import { withToolHint } from './tool-error-hints.ts';
import { OutputCollector } from './truncate-output.ts';

export interface ProgressParams {
  [key: string]: unknown;
  progressToken: string | number;
  progress: number;
  message?: string;
}

export interface RunCommandRequest {
  sandbox: string;
  command: string | string[];
  cwd?: string;
  env?: Record<string, string>;
  timeoutSeconds: number;
  /** Aborted when the client cancels the request: the job is stopped through the API. */
  signal: AbortSignal;
  /** The request's `_meta.progressToken`: progress is sent only when the client asked. */
  progressToken?: string | number;
  sendProgress: (params: ProgressParams) => Promise<void>;
  progressIntervalMs?: number;
}

/**
 * How long after the command's own timeout (which the server enforces: SIGTERM, then SIGKILL
 * 2 s later) the tool stops the job itself, should the server's timeout not have ended it.
 */
const timeoutGraceMs = 10_000;

/**
 * Runs the command as an exec job of the sandbox and waits for it, keeping the head and tail of
 * its output, sending progress while it runs and stopping the job when the request is cancelled.
 */
export async function runCommandInSandbox(
  client: Mags,
  request: RunCommandRequest,
): Promise<CallToolResult> {
  const startedAt = performance.now();
  const job = await client.sandboxes
    .exec(request.sandbox, request.command, {
      ...(request.cwd !== undefined ? { cwd: request.cwd } : {}),
      ...(request.env !== undefined ? { env: request.env } : {}),
      timeoutSeconds: request.timeoutSeconds,
    })
    .catch((error: unknown) => {
      throw withToolHint(error);
    });
  const collector = new OutputCollector();
  let stoppedBy: 'cancelled' | 'timeout guard' | undefined;
  const stopJob = (why: 'cancelled' | 'timeout guard') => {
    stoppedBy ??= why;
    // The job's record says it was stopped; the log stream below then ends by itself.
    client.jobs.stop(job.id).catch(() => {});
  };
  const onAbort = () => stopJob('cancelled');
  if (request.signal.aborted) onAbort();
  else request.signal.addEventListener('abort', onAbort, { once: true });
  const guard = setTimeout(
    () => stopJob('timeout guard'),
    request.timeoutSeconds * 1000 + timeoutGraceMs,
  );
  let progressTimer: NodeJS.Timeout | undefined;
  const { progressToken } = request;
  if (progressToken !== undefined) {
    progressTimer = setInterval(() => {
      const elapsedSeconds = Math.round((performance.now() - startedAt) / 100) / 10;
      const lastLine = collector.lastLine();
      request
        .sendProgress({
          progressToken,
          progress: elapsedSeconds,
          message: `running ${elapsedSeconds} s (job ${job.id})${lastLine ? `: ${lastLine}` : ''}`,
        })
        .catch(() => {});
    }, request.progressIntervalMs ?? 1000);
  }
  let finished: Job;
  try {
    finished = await client.jobs.logs(job.id, {
      onOutput: (_stream, bytes) => collector.add(bytes),
    });
  } catch (error) {
    // Without its output stream the tool cannot report the command: stop it rather than leave
    // it running unseen (a retry would start another), and name the job so its log stays findable.
    await client.jobs.stop(job.id).catch(() => {});
    throw followFailed(job.id, error);
  } finally {
    clearTimeout(guard);
    clearInterval(progressTimer);
    request.signal.removeEventListener('abort', onAbort);
  }
  const durationMs = measuredDurationMs(finished) ?? Math.round(performance.now() - startedAt);
  return commandResult(finished, collector, durationMs, request.timeoutSeconds, stoppedBy);
}

function followFailed(jobId: string, error: unknown): MagsError {
  const cause = error instanceof Error ? error.message : String(error);
  const where = `job ${jobId} was stopped; what it wrote so far is in ${jobLogUri(jobId)}`;
  const message = `Could not follow the command's output (${cause}), so ${where}.`;
  if (error instanceof MagsError) {
    return new MagsError(message, {
      code: error.code,
      statusCode: error.statusCode,
      retryable: error.retryable,
      hint: error.hint,
      cause: error,
    });
  }
  return new MagsError(message, {
    code: 'output_stream_failed',
    retryable: true,
    hint: 'Run the command again; read the log resource to see how far it got.',
    cause: error,
  });
}

function measuredDurationMs(job: Job): number | undefined {
  if (!job.startedAt || !job.finishedAt) return undefined;
  return Date.parse(job.finishedAt) - Date.parse(job.startedAt);
}

export function commandResult(
  job: Job,
  collector: OutputCollector,
  durationMs: number,
  timeoutSeconds: number,
  stoppedBy: string | undefined,
): CallToolResult {
  const output = collector.result();
  const timedOut = job.endReason === 'timed_out' || stoppedBy === 'timeout guard';
  const outcome = describeOutcome(job, timedOut, timeoutSeconds);
  const seconds = (durationMs / 1000).toFixed(2);
  const outputHeader =
    output.totalBytes === 0
      ? '(no output)'
      : output.omittedBytes > 0
        ? `output (${output.totalBytes} bytes, ${output.omittedBytes} left out in the middle):`
        : `output (${output.totalBytes} bytes):`;
  const summary = `${outcome} after ${seconds} s; job ${job.id} (full log: ${jobLogUri(job.id)})`;
  // The API's message words a timeout for the CLI (its --timeout flag); the outcome says it.
  const message = timedOut ? null : (job.message ?? null);
  const lines = [summary];
  if (message) lines.push(message);
  lines.push(outputHeader);
  if (output.totalBytes > 0) lines.push(output.text);
  return {
    content: [{ type: 'text', text: lines.join('\n') }],
    // Claude Code and Codex give the model only this JSON when it is present: it carries the
    // summary line and the message too, not just the fields.
    structuredContent: {
      summary,
      message,
      jobId: job.id,
      logUri: jobLogUri(job.id),
      status: job.status,
      exitCode: job.exitCode,
      signal: job.signal,
      endReason: job.endReason,
      timedOut,
      stopped: job.endReason === 'stopped' && !timedOut,
      durationMs,
      output: output.text,
      outputBytes: output.totalBytes,
      omittedBytes: output.omittedBytes,
    },
  };
}

function describeOutcome(job: Job, timedOut: boolean, timeoutSeconds: number): string {
  if (timedOut) return `timed out (limit ${timeoutSeconds} s) and was stopped`;
  if (job.endReason === 'stopped') return 'stopped before it ended';
  if (job.endReason === 'oom_killed') return 'killed: out of memory';
  if (job.exitCode !== null) return `exit code ${job.exitCode}`;
  // The API records an out-of-memory kill inside a sandbox as a plain SIGKILL.
  if (job.signal === 'SIGKILL') {
    return "killed by SIGKILL (often the memory limit: see sandbox_create's memoryMiB)";
  }
  if (job.signal) return `killed by ${job.signal}`;
  return `failed (${job.reason ?? job.endReason ?? job.status})`;
}
