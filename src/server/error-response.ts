import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { MagsError, RateLimitError } from '../errors/mags-error.ts';
import type { ApiError } from './schemas.ts';

/** Every error leaves the server as `{ error: { code, message, hint?, requestId } }`. */
export function errorResponse(error: unknown, c: Context): Response {
  const requestId = c.get('requestId') as string | undefined;
  let status: ContentfulStatusCode = 500;
  let body: ApiError['error'];
  if (error instanceof MagsError) {
    status = (error.statusCode ?? 500) as ContentfulStatusCode;
    body = { code: error.code, message: error.message, hint: error.hint };
  } else if (error instanceof HTTPException) {
    status = error.status as ContentfulStatusCode;
    body = { code: httpCode(error.status), message: error.message || 'Bad request.' };
  } else {
    console.error(`[${requestId}]`, error);
    body = { code: 'internal', message: 'Internal server error; the server log has the details.' };
  }
  // A refused body may be partly unread: the connection cannot carry another request.
  if (status === 413) c.header('connection', 'close');
  if (error instanceof RateLimitError) c.header('retry-after', String(error.retryAfterSeconds));
  return c.json({ error: { ...body, requestId } }, status);
}

/** A schema failure names the field: `body.limits.memoryMiB: Too big: expected <= 1048576`. */
export function validationResponse(target: string, error: ZodError, c: Context): Response {
  const where = target === 'json' ? 'body' : target;
  const messages = error.issues
    .slice(0, 5)
    .map((issue) => `${[where, ...issue.path.map(String)].join('.')}: ${issue.message}`);
  return c.json(
    {
      error: {
        code: 'invalid_input',
        message: messages.join('; '),
        requestId: c.get('requestId') as string | undefined,
      },
    },
    400,
  );
}

function httpCode(status: number): string {
  if (status === 413) return 'too_large';
  if (status === 404) return 'not_found';
  if (status === 401) return 'unauthorized';
  return status < 500 ? 'invalid_input' : 'internal';
}
