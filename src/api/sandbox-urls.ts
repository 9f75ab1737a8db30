/**
 * URLs to a long-lived sandbox's ports (`mags url`): the server's reverse proxy serves each at
 * `PORT-NAME-TAG.DOMAIN` (with `mags server --url-domain DOMAIN`) or `/u/ID/`, private unless
 * public (the owner's token, or a signed link that expires).
 */
import { z } from '@hono/zod-openapi';
import { SandboxNameSchema } from './schemas.ts';

export const SandboxUrlIdSchema = z
  .string()
  .regex(/^url_[0-9a-f]{16}$/)
  .openapi({ param: { name: 'id', in: 'path' }, example: 'url_3f2a9c1d0b7e4a56' });

export const CreateSandboxUrlBodySchema = z
  .strictObject({
    port: z.number().int().min(1).max(65535).openapi({
      description:
        'The TCP port inside the sandbox (its server listens on 0.0.0.0, 127.0.0.1 or ::).',
      example: 8080,
    }),
    public: z.boolean().default(false).openapi({
      description:
        "Anyone may open it; otherwise a request needs the owner's token or the signed link.",
    }),
    expiresInSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional()
      .openapi({
        description:
          'The URL ends this long after it is made; a private one then also gets a signed link (signedUrl) that opens it without a token until then.',
        example: 3600,
      }),
  })
  .openapi('CreateSandboxUrlRequest');
export type CreateSandboxUrlBody = z.input<typeof CreateSandboxUrlBodySchema>;

export const SandboxUrlSchema = z
  .object({
    id: SandboxUrlIdSchema,
    sandbox: SandboxNameSchema,
    port: z.number().int(),
    public: z.boolean(),
    url: z.string().openapi({
      description: 'The address: host form under the server URL domain, or path form /u/ID/.',
      example: 'http://8080-web-3f2a9c1d.example.test:7070/',
    }),
    signedUrl: z.string().optional().openapi({
      description:
        'Private with an expiry: the address with its signed link, shown only when the URL is made.',
    }),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
  })
  .openapi('SandboxUrl');
export type SandboxUrl = z.infer<typeof SandboxUrlSchema>;

export const SandboxUrlListSchema = z
  .object({ urls: z.array(SandboxUrlSchema) })
  .openapi('SandboxUrlList');
