import { ErrorSchema } from '../schemas.ts';

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
