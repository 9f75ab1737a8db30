import type { Mags } from '../sdk/mags.ts';
import { jobLogUri } from './job-log-uri.ts';
import { withoutCutLastCharacter } from './truncate-output.ts';

/** The most of a job's log one read returns: a model's context is the limit, not the store's. */
export const jobLogCapBytes = 1024 * 1024;

/** The log resource from a byte offset on (the `{?offset}` template). */
export const jobLogFromUri = (jobId: string, offsetBytes: number) =>
  `${jobLogUri(jobId)}?offset=${offsetBytes}`;

/**
 * A job's output from `offsetBytes`, stdout and stderr interleaved as they came, up to
 * `jobLogCapBytes` and cut on a character boundary, with notes naming the resource that reads on.
 */
export async function jobLogText(client: Mags, jobId: string, offsetBytes = 0): Promise<string> {
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
      offset: offsetBytes,
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
  const all = Buffer.concat(chunks);
  const capped = bytes >= jobLogCapBytes;
  // A cut inside a character would show U+FFFD here and at the start of the next read.
  const kept = capped ? withoutCutLastCharacter(all) : all;
  const text = kept.toString('utf8');
  const end = offsetBytes + kept.length;
  const notes: string[] = [];
  const running = job.status === 'queued' || job.status === 'running';
  // A running job's size was read before its output: it may have grown past the cap since.
  if (capped && (job.logBytes > end || running)) {
    const total = job.logBytes > end ? `${job.logBytes}` : `more than ${end}`;
    notes.push(
      `[mags: the log is cut here at byte ${end} of ${total}; read the rest from the resource ` +
        `${jobLogFromUri(jobId, end)}]`,
    );
  } else if (running) {
    notes.push(
      `[mags: job ${jobId} is still ${job.status}; its output after this: ${jobLogFromUri(jobId, end)}]`,
    );
  }
  return notes.length > 0
    ? `${text}${text.endsWith('\n') || !text ? '' : '\n'}${notes.join('\n')}\n`
    : text;
}
