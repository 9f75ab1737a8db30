import { ErrorSchema } from '../../api/schemas.ts';

const errorResponse = (description: string) => ({
  content: { 'application/json': { schema: ErrorSchema } },
  description,
});

/** The error responses every `/v1` route documents; `conflict` adds a 409 described so. */
export function errorResponses(conflict?: string) {
  return {
    400: errorResponse('Invalid input'),
    401: errorResponse('No valid token'),
    404: errorResponse('Not found'),
    ...(conflict === undefined ? {} : { 409: errorResponse(conflict) }),
  };
}

/** A 429 for routes that start jobs or sandboxes, which count against the owner's limits. */
export const rateLimitResponse = {
  429: {
    ...errorResponse("Over one of the owner's limits; retry after the Retry-After seconds"),
    headers: { 'retry-after': { schema: { type: 'integer' as const } } },
  },
};
