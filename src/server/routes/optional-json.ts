import type { z } from '@hono/zod-openapi';
import { InvalidInputError } from '../../errors/mags-error.ts';

/**
 * An optional JSON body (stop, approve): none, or an empty one, is `undefined`; a bad one is a
 * 400 through the schema, like every other body, naming the field. Read through Hono's request,
 * which caches the body: the route's validator has already consumed the raw one when it came as
 * JSON.
 */
export async function optionalJson<T extends z.ZodType>(
  request: { text(): Promise<string> },
  schema: T,
): Promise<z.infer<T> | undefined> {
  const text = await request.text();
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidInputError('The body is not JSON.', { hint: 'Send a JSON object, or none.' });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidInputError(
      `body${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}
