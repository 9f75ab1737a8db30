import { z } from 'zod';

/**
 * What a decoded manifest must look like before any of it is used. A restore runs as host root
 * and the store is trusted less than the host: every number is a safe integer in its range (a
 * string could carry a NUL into mags-layer's records, and an id outside the mapping would chown to
 * another host user), every hash is 64 hex digits, every path and target is non-empty and free of
 * NUL, and a pack's raw size is bounded (the decompression's limit comes from it).
 */

/** A pack's raw bytes at most (the writer seals packs under 8 MiB + one small file: pack-writer.ts). */
export const maxPackBytes = 16 * 1024 * 1024;
/** A manifest's JSON at most (10,000 entries are ~2 MiB). */
export const maxManifestBytes = 256 * 1024 * 1024;
/** Sandbox uids and gids a manifest may hold: the id mapping's size (id-mapping.ts). */
export const maxSandboxId = 65_535;

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const id = z.number().int().min(0).max(maxSandboxId);
const time = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const hash = z.string().regex(/^[0-9a-f]{64}$/);
const text = z
  .string()
  .min(1)
  .refine((value) => !value.includes('\0'), 'contains NUL');
const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]+=*$/)
  .refine((value) => !Buffer.from(value, 'base64').includes(0), 'contains NUL');
const path = z.union([text, z.strictObject({ base64 })]);
const owner = { uid: id, gid: id, mtimeMs: time };

const entry = z.discriminatedUnion('type', [
  z.strictObject({
    path,
    type: z.literal('directory'),
    mode: z.number().int().min(0).max(0o7777),
    ...owner,
    opaque: z.literal(true).optional(),
  }),
  z.strictObject({
    path,
    type: z.literal('file'),
    mode: z.number().int().min(0).max(0o7777),
    ...owner,
    size: count,
    chunks: z.array(hash),
    linkOf: path.optional(),
    pack: count.optional(),
    offset: count.optional(),
  }),
  z.strictObject({ path, type: z.literal('symlink'), ...owner, target: path }),
  z.strictObject({ path, type: z.literal('whiteout') }),
]);

export const manifestSchema = z.object({
  format: z.enum(['mags-workspace-manifest-v1', 'mags-workspace-manifest-v2']),
  workspace: z.string(),
  version: count,
  parentVersion: count.nullable(),
  createdAt: z.string(),
  host: z.string(),
  totalBytes: count,
  entries: z.array(entry),
  packs: z
    .array(z.strictObject({ hash, bytes: z.number().int().min(0).max(maxPackBytes) }))
    .optional(),
  entriesSha256: hash,
});
