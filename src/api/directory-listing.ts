import { z } from '@hono/zod-openapi';

/** A directory inside the sandbox: absolute, no `..`, no NUL; `/` and a trailing `/` are fine. */
export const DirectoryQuerySchema = z.strictObject({
  path: z
    .string()
    .min(1)
    .max(4096)
    .startsWith('/', 'path must be absolute, e.g. /workspace')
    .refine((value) => !value.split('/').includes('..'), 'path must not contain ".." segments')
    .refine((value) => !value.includes('\0'), 'path must not contain NUL'),
});

export const DirectoryEntrySchema = z
  .object({
    name: z.string().openapi({
      description: 'The name as text; bytes that are not UTF-8 are shown as U+FFFD.',
    }),
    type: z.enum(['file', 'directory', 'symlink', 'other']),
    sizeBytes: z.number().int(),
    mode: z.string().openapi({ description: 'Permission bits in octal, e.g. `0644`.' }),
    modifiedAt: z.string().nullable(),
    target: z.string().optional().openapi({ description: "A symlink's target, as stored." }),
  })
  .openapi('DirectoryEntry');

export const DirectoryListingSchema = z
  .object({
    path: z.string(),
    entries: z.array(DirectoryEntrySchema),
    truncated: z.boolean().openapi({
      description: 'More entries than the listing limit: only that many are here.',
    }),
  })
  .openapi('DirectoryListing');

export type DirectoryEntry = z.infer<typeof DirectoryEntrySchema>;
export type DirectoryListing = z.infer<typeof DirectoryListingSchema>;
