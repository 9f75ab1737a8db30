import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export interface WrittenLayer {
  /** Of the compressed blob: its name under blobs/sha256/ and the manifest's layer digest. */
  digest: string;
  /** Of the uncompressed tar: the config's `rootfs.diff_ids` entry (config.md). */
  diffId: string;
  /** The compressed blob's size in bytes. */
  size: number;
}

/**
 * Writes a gzip layer of `tarBlocks` into `blobsDirectory` (blobs/sha256/), hashing the tar and
 * the gzip as they stream past, so a layer of hundreds of MiB is never held in memory. The blob
 * is written under a temporary name and renamed to its digest once complete.
 */
export async function writeGzipLayerBlob(
  tarBlocks: AsyncIterable<Buffer>,
  blobsDirectory: string,
  /** Called with the uncompressed bytes written so far, as they grow. */
  onTarBytes: (totalBytes: number) => void = () => {},
): Promise<WrittenLayer> {
  const tarHash = createHash('sha256');
  const gzipHash = createHash('sha256');
  let size = 0;
  let tarBytes = 0;
  const temporary = join(blobsDirectory, `.layer-${process.pid}-${Date.now()}`);
  await pipeline(
    Readable.from(tarBlocks),
    hashing(tarHash, (bytes) => {
      tarBytes += bytes;
      onTarBytes(tarBytes);
    }),
    // gzip's header carries no name and a zero mtime here (zlib's deflateInit2 defaults), so the
    // same tar compresses to the same bytes every time.
    createGzip(),
    hashing(gzipHash, (bytes) => {
      size += bytes;
    }),
    createWriteStream(temporary, { flags: 'wx' }),
  );
  const digest = gzipHash.digest('hex');
  await rename(temporary, join(blobsDirectory, digest));
  return { digest: `sha256:${digest}`, diffId: `sha256:${tarHash.digest('hex')}`, size };
}

/** Writes a JSON document as a blob; returns its digest and size for a descriptor. */
export async function writeJsonBlob(
  document: unknown,
  blobsDirectory: string,
): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.from(JSON.stringify(document));
  const digest = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(blobsDirectory, digest), bytes);
  return { digest: `sha256:${digest}`, size: bytes.length };
}

function hashing(hash: Hash, onBytes: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
}
