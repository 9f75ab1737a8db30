import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Job } from '../api/schemas.ts';
import { MagsError } from '../errors/mags-error.ts';
import type { Mags } from '../sdk/mags.ts';
import { jobLogUri } from './job-log-uri.ts';
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
  // Its errors get the tools' hints from toolErrorResult.
  const job = await client.sandboxes.exec(request.sandbox, request.command, {
    ...(request.cwd !== undefined ? { cwd: request.cwd } : {}),
    ...(request.env !== undefined ? { env: request.env } : {}),
    timeoutSeconds: request.timeoutSeconds,
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
    // it running unseen (a retry would start another), and say what became of it, since stop
    // can fail too, or find the job already ended.
    const stop = await client.jobs.stop(job.id).then(
      (stopped) => ({ stopped }),
      (stopError: unknown) => ({ stopError }),
    );
    throw followFailed(job.id, error, stop, request.timeoutSeconds);
  } finally {
    clearTimeout(guard);
    clearInterval(progressTimer);
    request.signal.removeEventListener('abort', onAbort);
  }
  const durationMs = measuredDurationMs(finished) ?? Math.round(performance.now() - startedAt);
  return commandResult(finished, collector, durationMs, request.timeoutSeconds, stoppedBy);
}

type StopOutcome = { stopped: Job } | { stopError: unknown };

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function followFailed(
  jobId: string,
  error: unknown,
  stop: StopOutcome,
  timeoutSeconds: number,
): MagsError {
  const cause = messageOf(error);
  const logUri = jobLogUri(jobId);
  if ('stopError' in stop) {
    // Nothing says whether the command still runs: running it again could run it twice.
    return new MagsError(
      `Could not follow the command's output (${cause}), nor stop job ${jobId} ` +
        `(${messageOf(stop.stopError)}): it may still be running.`,
      {
        code: 'job_state_unknown',
        retryable: false,
        hint: `Read ${logUri} (it says whether the job still runs) before running the command again.`,
        cause: error,
      },
    );
  }
  const job = stop.stopped;
  if (job.endReason !== 'stopped') {
    // It ended by itself before the stop: it ran once, to its end; its output is in its log.
    const outcome = describeOutcome(job, job.endReason === 'timed_out', timeoutSeconds);
    return new MagsError(
      `Could not follow the command's output (${cause}); job ${jobId} had already ended: ${outcome}.`,
      {
        code: 'output_stream_failed',
        retryable: false,
        hint: `Read ${logUri} for its output rather than running the command again.`,
        cause: error,
      },
    );
  }
  const message =
    `Could not follow the command's output (${cause}), so job ${jobId} was stopped ` +
    `(status ${job.status}); what it wrote so far is in ${logUri}.`;
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
  const message = messageForModel(job.message, timedOut);
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

/**
 * The job's message (src/jobs/job-outcome.ts) in the tools' words: its timeout line repeats the
 * outcome and names the CLI's --timeout, so it goes; its out-of-memory line names --memory.
 * Other lines (disk full, ...) stay.
 */
function messageForModel(message: string | null, timedOut: boolean): string | null {
  if (!message) return null;
  const lines = message
    .split('\n')
    .filter((line) => !(timedOut && line.startsWith('timed out after')))
    .map((line) =>
      line.replace('(raise it with --memory)', "(sandbox_create's memoryMiB sets the limit)"),
    );
  return lines.length > 0 ? lines.join('\n') : null;
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
