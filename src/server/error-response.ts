import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import type { ApiError } from '../api/schemas.ts';
import { RateLimitError } from '../errors/mags-error.ts';
import { ownerFacingError, type ServerLocations } from '../jobs/owner-facing-error.ts';
import { lingerAfterAnswer } from './linger-after-answer.ts';

/**
 * Every error leaves the server as `{ error: { code, message, hint?, requestId } }`, in the
 * requesting owner's words: a client's own mistakes keep their text (with the owner's workspace
 * names, and no host paths), anything else is only its code and status. What was withheld goes
 * to the server's log under the request id.
 */
export function errorHandler(locations: ServerLocations) {
  return (error: unknown, c: Context): Response => {
    const requestId = c.get('requestId') as string | undefined;
    let status: ContentfulStatusCode;
    let body: ApiError['error'];
    if (error instanceof HTTPException) {
      status = error.status as ContentfulStatusCode;
      body = { code: httpCode(error.status), message: error.message || 'Bad request.' };
    } else {
      const owner = c.get('owner') as string | undefined;
      const facing = ownerFacingError(error, owner, locations);
      if (facing.withheld) console.error(`[${requestId}] owner ${owner ?? '-'}:`, error);
      status = facing.statusCode as ContentfulStatusCode;
      body = { code: facing.code, message: facing.message, hint: facing.hint };
    }
    // A refused body may be partly unread: the connection cannot carry another request.
    if (status === 413) {
      c.header('connection', 'close');
      lingerAfterAnswer((c.env as { incoming?: IncomingMessage } | undefined)?.incoming);
    }
    if (error instanceof RateLimitError) c.header('retry-after', String(error.retryAfterSeconds));
    return c.json({ error: { ...body, requestId } }, status);
  };
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
