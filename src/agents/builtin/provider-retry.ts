/**
 * Which provider errors are worth another try and how long to wait. The AI SDK's own retries
 * (`maxRetries`) honour Retry-After (up to 60 s) but say nothing while they wait, so the loop
 * turns them off and retries here: a `retry` event per retry, Retry-After and retry-after-ms
 * honoured, exponential backoff otherwise. 429 and 5xx are retried, other 4xx are not.
 */
import { APICallError } from 'ai';

export interface RetryPolicy {
  /** Retries after the first try (0: none). */
  maxRetries: number;
  /** The first backoff; each retry doubles it. */
  initialDelayMs: number;
  /** Backoff cap, and the most a Retry-After header may ask for. */
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxRetries: 5,
  initialDelayMs: 2000,
  maxDelayMs: 120_000,
};

export interface ProviderFailure {
  retryable: boolean;
  statusCode: number | undefined;
  /** No HTTP answer at all (refused, reset, DNS): the address may be wrong or the server down. */
  unreachable: boolean;
  /** The provider's own message (and status), for the ticket's reason. */
  message: string;
  /** What the provider asked to wait, from Retry-After or retry-after-ms. */
  retryAfterMs: number | undefined;
}

export function classifyProviderError(error: unknown): ProviderFailure {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as {
    statusCode?: unknown;
    isRetryable?: unknown;
    responseHeaders?: Record<string, string>;
    message?: unknown;
  };
  const statusCode = typeof fields.statusCode === 'number' ? fields.statusCode : undefined;
  const message =
    typeof fields.message === 'string' && fields.message ? fields.message : String(error);
  // A failure with no HTTP status (connection reset, DNS) is as the provider package judged it.
  const retryable =
    statusCode !== undefined
      ? statusCode === 429 || statusCode >= 500
      : APICallError.isInstance(error) && error.isRetryable;
  return {
    retryable,
    statusCode,
    unreachable: statusCode === undefined && APICallError.isInstance(error),
    message: statusCode !== undefined ? `${message} (HTTP ${statusCode})` : message,
    retryAfterMs: retryAfterMs(fields.responseHeaders),
  };
}

/** Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3), or OpenAI's retry-after-ms. */
export function retryAfterMs(headers: Record<string, string> | undefined): number | undefined {
  if (!headers) return undefined;
  const milliseconds = Number.parseFloat(headers['retry-after-ms'] ?? '');
  if (Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds;
  const value = headers['retry-after'];
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** How long to wait before retry number `retry` (1 for the first). */
export function retryDelayMs(failure: ProviderFailure, retry: number, policy: RetryPolicy): number {
  const backoff = policy.initialDelayMs * 2 ** (retry - 1);
  return Math.min(failure.retryAfterMs ?? backoff, policy.maxDelayMs);
}
