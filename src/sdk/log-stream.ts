import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Job } from '../api/schemas.ts';
import { bodyChunks } from './body-chunks.ts';

export type OutputStream = 'stdout' | 'stderr';

/** How a persistent workspace's sync (after a run) or restore (before it) is getting on. */
export interface SyncProgressEvent {
  phase: 'scanning' | 'uploading' | 'committing';
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface FollowOptions {
  /** Byte offset to start from (0: the beginning). */
  offset?: number;
  /** Keep streaming until the job ends (default true). */
  follow?: boolean;
  /** Raw bytes, in order, each exactly once, even across reconnections. */
  onOutput?: (stream: OutputStream, data: Uint8Array) => void;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** A run's sandbox is up (once, before its command's output): its id. */
  onStarted?: (sandboxId: string) => void;
  /** A run's sync or restore of its persistent workspace is under way. */
  onSyncProgress?: (progress: SyncProgressEvent) => void;
  signal?: AbortSignal;
  /** Reconnections after a dropped stream before giving up (default 10). */
  maxReconnects?: number;
}

export type LogRequest = (path: string, signal: AbortSignal | undefined) => Promise<Response>;

/**
 * Reads a job's output as Server-Sent Events, resuming from the last byte offset received when
 * the connection drops, so the output arrives complete and never twice. Resolves with the job as
 * the `end` event reports it (its final state when following).
 */
export async function followJobLogs(
  request: LogRequest,
  jobId: string,
  options: FollowOptions = {},
): Promise<Job> {
  let offset = options.offset ?? 0;
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  let failures = 0;
  let started = false; // a reconnection hears of the start again
  for (;;) {
    let ended: Job | undefined;
    const deliver = (event: EventSourceMessage) => {
      if (event.event === 'end') {
        ended = JSON.parse(event.data) as Job;
        return;
      }
      if (event.event === 'started') {
        if (!started)
          options.onStarted?.((JSON.parse(event.data) as { sandboxId: string }).sandboxId);
        started = true;
        return;
      }
      if (event.event === 'progress') {
        options.onSyncProgress?.(JSON.parse(event.data) as SyncProgressEvent);
        return;
      }
      if (event.event !== 'stdout' && event.event !== 'stderr') return;
      const payload = JSON.parse(event.data) as { offset: number; text?: string; base64?: string };
      const bytes =
        payload.text !== undefined
          ? new TextEncoder().encode(payload.text)
          : // atob, not Buffer: the SDK runs in browsers too (the dashboard), where Buffer is absent.
            Uint8Array.from(atob(payload.base64 ?? ''), (character) => character.charCodeAt(0));
      offset = Number(event.id);
      options.onOutput?.(event.event, bytes);
      const text = decoders[event.event].decode(bytes, { stream: true });
      if (event.event === 'stdout') options.onStdout?.(text);
      else options.onStderr?.(text);
    };
    try {
      const follow = options.follow ?? true;
      const response = await request(
        `/v1/jobs/${encodeURIComponent(jobId)}/logs?offset=${offset}&follow=${follow}`,
        options.signal,
      );
      const parser = createParser({ onEvent: deliver });
      const decoder = new TextDecoder();
      for await (const chunk of bodyChunks(response.body)) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        failures = 0;
      }
      if (ended) return ended;
      throw new Error('the log stream ended before the job did');
    } catch (error) {
      // API errors (404, 401) and a caller's abort end it; a dropped connection is retried.
      if (options.signal?.aborted || (error as { statusCode?: number }).statusCode) throw error;
      if (++failures > (options.maxReconnects ?? 10)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2000)));
  }
}
