import {
  AuthenticationError,
  ConflictError,
  DependencyMissingError,
  InvalidInputError,
  MagsError,
  NotFoundError,
  PermissionDeniedError,
  QuotaExceededError,
  RateLimitError,
} from '../errors/mags-error.ts';

/**
 * The one place that maps an HTTP status and error body (and, for 429, the Retry-After header)
 * to the error class a caller catches.
 */
export function errorFromResponse(status: number, body: unknown, headers?: Headers): MagsError {
  const error = (body as { error?: { code?: string; message?: string; hint?: string } })?.error;
  const message = error?.message ?? `The server answered HTTP ${status}.`;
  const options = { code: error?.code, hint: error?.hint, statusCode: status };
  if (status === 400 || status === 413) return new InvalidInputError(message, options);
  if (status === 401) return new AuthenticationError(message, options);
  // 403 is never about the token (that is 401): a file the sandbox may not touch, a read-only one.
  if (status === 403) return new PermissionDeniedError(message, options);
  if (status === 404) return new NotFoundError(message, options);
  if (status === 409 && error?.code === 'owner_disk_quota') {
    return new QuotaExceededError(message, options);
  }
  if (status === 409) return new ConflictError(message, options);
  if (status === 429) {
    // Retry-After is seconds here (RFC 9110 also allows a date, which mags never sends).
    const seconds = Number(headers?.get('retry-after'));
    return new RateLimitError(message, {
      ...options,
      retryAfterSeconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : 1,
    });
  }
  if (status === 503) return new DependencyMissingError(message, { ...options, retryable: true });
  return new MagsError(message, {
    ...options,
    code: options.code ?? 'server_error',
    retryable: status >= 500,
  });
}

export function unreachableError(url: string, cause: unknown): MagsError {
  return new MagsError(`Cannot reach the mags server at ${url}: ${describe(cause)}`, {
    code: 'server_unreachable',
    retryable: true,
    cause,
    hint: 'Is mags server running there? Check MAGS_URL (or --url).',
  });
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
