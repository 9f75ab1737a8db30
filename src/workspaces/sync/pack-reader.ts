import { promisify } from 'node:util';
import { zstdDecompress } from 'node:zlib';
import { MagsError } from '../../errors/mags-error.ts';
import { ObjectNotFoundError, type ObjectStore } from '../../storage/object-store.ts';
import { type Manifest, type ManifestEntry, packKey, sha256 } from './manifest.ts';
import { displayPath } from './manifest-path.ts';

const decompress = promisify(zstdDecompress);

type FileEntry = Extract<ManifestEntry, { type: 'file' }>;

/** The packed files of a version, by pack number; a reference out of range is a damaged manifest. */
export function packedFilesByPack(manifest: Manifest): Map<number, FileEntry[]> {
  const byPack = new Map<number, FileEntry[]>();
  for (const entry of manifest.entries) {
    if (entry.type !== 'file' || entry.pack === undefined || entry.linkOf !== undefined) continue;
    const pack = manifest.packs?.[entry.pack];
    if (
      !pack ||
      entry.offset === undefined ||
      entry.chunks.length !== 1 ||
      entry.offset < 0 ||
      entry.offset + entry.size > pack.bytes
    ) {
      throw new MagsError(
        `The manifest of ${manifest.workspace}@${manifest.version} places ${JSON.stringify(displayPath(entry.path))} outside its packs: the store is corrupted.`,
        {
          code: 'manifest_corrupted',
          workspace: manifest.workspace,
          hint: 'Restore another version (mags workspace versions NAME), or repair the store.',
        },
      );
    }
    let files = byPack.get(entry.pack);
    if (!files) {
      files = [];
      byPack.set(entry.pack, files);
    }
    files.push(entry);
  }
  return byPack;
}

/**
 * Fetches one pack whole (a version keeps only packs it reads at least half of: push-workspace.ts)
 * and checks it twice: the stored bytes against the pack's hash, then every file's slice against
 * the file's own hash, so no byte reaches the layer unverified. Returns the uncompressed pack.
 */
export async function fetchPack(
  store: ObjectStore,
  manifest: Manifest,
  index: number,
  files: FileEntry[],
): Promise<{ raw: Buffer; storedBytes: number }> {
  const pack = manifest.packs?.[index] as { hash: string; bytes: number };
  const first = files[0] as FileEntry;
  const fail = (what: string, file: FileEntry = first) =>
    new MagsError(
      `Cannot restore ${manifest.workspace}@${manifest.version}: its pack ${pack.hash.slice(0, 16)}… ${what} (${JSON.stringify(displayPath(file.path))}${files.length > 1 && file === first ? ` and ${files.length - 1} more files` : ''}).`,
      {
        code: 'pack_corrupted',
        workspace: manifest.workspace,
        hint: 'Nothing local was changed. The store is damaged: restore another version (mags workspace versions NAME) or repair the store.',
      },
    );
  const body = await store.get(packKey(pack.hash)).catch((error: unknown) => {
    if (error instanceof ObjectNotFoundError) throw fail('is missing from the store');
    throw error;
  });
  if (sha256(body) !== pack.hash) throw fail('does not match its hash');
  // The raw size is known: a pack that would inflate beyond it is refused, not decompressed. One
  // output chunk of that size: zlib's default 16 KiB chunks cost a thread-pool round trip each
  // (~6,500 for the bench's tree) and a concat, more than the decompression itself.
  const outputBytes = Math.max(64, pack.bytes);
  const raw = await decompress(body, {
    maxOutputLength: outputBytes,
    chunkSize: outputBytes,
  }).catch(() => {
    throw fail('does not decompress');
  });
  if (raw.length !== pack.bytes) throw fail('is truncated');
  // Files with the same content share one place in the pack: it is checked once.
  const checked = new Set<string>();
  for (const file of files) {
    const offset = file.offset as number;
    const place = `${offset} ${file.chunks[0]}`;
    if (checked.has(place)) continue;
    if (sha256(raw.subarray(offset, offset + file.size)) !== file.chunks[0])
      throw fail(`holds other bytes than ${JSON.stringify(displayPath(file.path))}`, file);
    checked.add(place);
  }
  return { raw, storedBytes: body.length };
}
