import { createRoute, type z } from '@hono/zod-openapi';
import type { errorResponses } from './error-responses.ts';

/** A JSON request body of `schema` (OpenAPI), required or optional. */
export const jsonBody = <T extends z.ZodType>(schema: T, required: boolean) => ({
  content: { 'application/json': { schema } },
  required,
});

/** A JSON response of `schema` (OpenAPI). */
export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

/**
 * The POST actions on one resource of a collection (`/v1/tickets/{id}/<action>`,
 * `/v1/plans/{id}/<action>`): each takes an optional JSON body and answers the resource, so
 * tickets and plans describe theirs alike.
 */
export function resourceActions<R extends z.ZodType, P extends z.ZodObject>(options: {
  collection: string;
  params: P;
  resource: R;
  description: string;
  errors: ReturnType<typeof errorResponses>;
}) {
  const { collection, params, resource, description, errors } = options;
  return (path: string, summary: string, body?: z.ZodType) =>
    createRoute({
      method: 'post',
      path: `/v1/${collection}/{id}/${path}`,
      summary,
      request: { params, ...(body ? { body: jsonBody(body, false) } : {}) },
      responses: { 200: jsonResponse(resource, description), ...errors },
    });
}
