/**
 * `GET /v1/pool/events`: the figures of `/v1/pool` as a stream (Server-Sent Events, each a
 * `sample`), sent when they change and otherwise every few seconds, so a dashboard charts them
 * live without polling. Owner-scoped like `/v1/pool`: the host's figures only to an admin token.
 */
import { z } from '@hono/zod-openapi';
import { PoolStatusSchema } from './schemas.ts';

export const PoolSampleSchema = PoolStatusSchema.extend({
  at: z.string().openapi({ description: 'When the server took the sample (ISO 8601).' }),
}).openapi('PoolSample');

export type PoolSample = z.infer<typeof PoolSampleSchema>;
