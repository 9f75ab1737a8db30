import { open } from 'node:fs/promises';
import { chunkBytes, sha256 } from './manifest.ts';

/** A whole small file and its sha256 (short when the file shrank since the scan). */
export async function readSmallFile(
  path: Buffer,
  size: number,
): Promise<{ hash: string; data: Buffer }> {
  const handle = await open(path, 'r');
  try {
    const data = Buffer.allocUnsafe(size);
    const { bytesRead } = await handle.read(data, 0, size, 0);
    const piece = data.subarray(0, bytesRead);
    return { hash: sha256(piece), data: piece };
  } finally {
    await handle.close();
  }
}

// Sparse files and preallocated images are mostly zeroes: comparing with a zero buffer (memcmp)
// is far cheaper than hashing, and every all-zero piece of a given length has one known hash.
const zeroes = Buffer.alloc(chunkBytes);
const zeroHashes = new Map<number, string>();
/** The hash of an all-zero piece of this length (at most chunkBytes; a restore leaves it a hole). */
export function zeroHash(length: number): string {
  let hash = zeroHashes.get(length);
  if (hash === undefined) {
    hash = sha256(zeroes.subarray(0, length));
    zeroHashes.set(length, hash);
  }
  return hash;
}

/** Cuts a file into 8 MiB chunks, hands each to `upload`, and returns their hashes. */
export async function readAndUploadChunks(
  path: Buffer,
  size: number,
  upload: (hash: string, data: Buffer) => Promise<void>,
): Promise<string[]> {
  const chunks: string[] = [];
  const handle = await open(path, 'r');
  try {
    for (let offset = 0; offset < size; offset += chunkBytes) {
      const length = Math.min(chunkBytes, size - offset);
      const data = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(data, 0, length, offset);
      const piece = data.subarray(0, bytesRead);
      const hash = piece.equals(zeroes.subarray(0, piece.length))
        ? zeroHash(piece.length)
        : sha256(piece);
      chunks.push(hash);
      await upload(hash, piece);
    }
  } finally {
    await handle.close();
  }
  return chunks;
}
