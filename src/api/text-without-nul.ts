import type { z } from '@hono/zod-openapi';

/**
 * `schema` refusing NUL (U+0000) in client text that the state stores: PostgreSQL's text cannot
 * hold it (SQLite's can), so the API refuses it on every backend with a 400 naming the field,
 * rather than a 500 on PostgreSQL only
 * (https://www.postgresql.org/docs/current/datatype-character.html: "the character with code zero … cannot be stored").
 */
export const withoutNul = <Schema extends z.ZodString>(schema: Schema): Schema =>
  schema.refine((value) => !value.includes('\0'), 'must not contain a NUL character (\\u0000)');
