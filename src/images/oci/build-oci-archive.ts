import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { processExists } from '../../config/process-exists.ts';
import {
  DependencyMissingError,
  InvalidInputError,
  MagsError,
  PermissionDeniedError,
} from '../../errors/mags-error.ts';
import type { ImageInfo } from '../image-store.ts';
import { magsLayerEntries } from './mags-layer-entries.ts';
import {
  ociAgentPath,
  ociArchitecture,
  ociImageConfig,
  ociImageLabels,
} from './oci-image-config.ts';
import { imageIdOf } from './oci-image-ids.ts';
import {
  type OciDescriptor,
  type OciImageIndex,
  type OciImageManifest,
  ociLayoutVersion,
  ociMediaTypes,
} from './oci-media-types.ts';
import { serverLayerEntries } from './server-layer-entries.ts';
import { type TarEntry, tarBlocks } from './tar-blocks.ts';
import { treeEntries } from './tree-entries.ts';
import { writeGzipLayerBlob, writeJsonBlob } from './write-blob.ts';

export interface OciBuildProgress {
  step: 'base layer' | 'mags layer' | 'server layer' | 'archive';
  /** Bytes of uncompressed tar (layers) or of archive written so far in this step. */
  bytes: number;
}

export interface BuildOciArchiveOptions {
  image: ImageInfo;
  /** The static guest agent on this host (native/build/mags-agent). */
  agentPath: string;
  /** The archive to write; replaced whole, and only once complete. */
  output: string;
  magsVersion: string;
  /** The manifest's `org.opencontainers.image.ref.name` in index.json (what `podman load` names it). */
  reference: string;
  /** The server image instead: a third layer with this package (`packageRoot`), run as `mags server`. */
  server?: { packageRoot: string };
  onProgress?: (event: OciBuildProgress) => void;
}

export interface OciArchive {
  output: string;
  sizeBytes: number;
  manifest: OciDescriptor;
  layers: OciDescriptor[];
}

/**
 * Writes an OCI image layout (image-layout.md) as one tar: `oci-layout`, `index.json` → manifest
 * → config and two gzip layers (the base image's root filesystem, then the guest agent and mags'
 * defaults), plus mags itself for the server image. Owners are the image's own ids (the store keeps them shifted into the sandboxes'
 * host range: shift-ownership.ts), every mtime is the base image's build time, entries in byte
 * order, so the same image gives the same bytes. Everything is written into a staging directory
 * beside `output` and renamed over it at the end: a failure (a full disk) leaves no archive.
 */
export async function buildOciArchive(options: BuildOciArchiveOptions): Promise<OciArchive> {
  const { image, magsVersion } = options;
  const output = resolve(options.output);
  const agent = await stat(options.agentPath).catch(() => undefined);
  if (!agent?.isFile()) {
    throw new DependencyMissingError(`The guest agent ${options.agentPath} is not built.`, {
      hint: 'Build it: npm run build',
    });
  }
  if ((await stat(output).catch(() => undefined))?.isDirectory()) {
    throw new InvalidInputError(
      `${output} is a directory; --output names the archive file to write.`,
      {
        hint: `Name a file, e.g. --output ${join(output, 'mags.tar')}`,
      },
    );
  }
  await removeAbandonedStaging(output);
  const staging = await mkdtemp(
    join(dirname(output), `${stagingPrefix(output)}${process.pid}-`),
  ).catch((error: NodeJS.ErrnoException) => {
    throw describeError(error, output, image.rootfs);
  });
  const progress = options.onProgress ?? (() => {});
  try {
    const blobs = join(staging, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const mtime = new Date(Math.floor(Date.parse(image.createdAt) / 1000) * 1000);
    const toImageId = (hostId: number) => imageIdOf(hostId, image.uidBase);
    const base = await writeGzipLayerBlob(
      tarBlocks(treeEntries(image.rootfs, { toImageId }), mtime),
      blobs,
      (bytes) => progress({ step: 'base layer', bytes }),
    );
    const magsEntries = await magsLayerEntries({
      rootfs: image.rootfs,
      agentSourcePath: options.agentPath,
      agentSizeBytes: agent.size,
      agentImagePath: ociAgentPath,
      toImageId,
    });
    const mags = await writeGzipLayerBlob(tarBlocks(magsEntries, mtime), blobs, (bytes) =>
      progress({ step: 'mags layer', bytes }),
    );
    const written = [base, mags];
    if (options.server) {
      written.push(
        await writeGzipLayerBlob(
          tarBlocks(serverLayerEntries(options.server.packageRoot), mtime),
          blobs,
          (bytes) => progress({ step: 'server layer', bytes }),
        ),
      );
    }
    const server = options.server !== undefined;
    const layers = written.map(
      (layer): OciDescriptor => ({
        mediaType: ociMediaTypes.gzipLayer,
        digest: layer.digest,
        size: layer.size,
      }),
    );
    const config = await writeJsonBlob(
      ociImageConfig({ image, magsVersion, diffIds: written.map((layer) => layer.diffId), server }),
      blobs,
    );
    const manifestDocument: OciImageManifest = {
      schemaVersion: 2,
      mediaType: ociMediaTypes.imageManifest,
      config: { mediaType: ociMediaTypes.imageConfig, ...config },
      layers,
      annotations: ociImageLabels(image, magsVersion, server),
    };
    const manifest: OciDescriptor = {
      mediaType: ociMediaTypes.imageManifest,
      ...(await writeJsonBlob(manifestDocument, blobs)),
      annotations: { 'org.opencontainers.image.ref.name': options.reference },
      platform: { architecture: ociArchitecture(), os: 'linux' },
    };
    const index: OciImageIndex = {
      schemaVersion: 2,
      mediaType: ociMediaTypes.imageIndex,
      manifests: [manifest],
    };
    const entries: TarEntry[] = [
      jsonEntry('oci-layout', { imageLayoutVersion: ociLayoutVersion }),
      jsonEntry('index.json', index),
      { path: 'blobs/', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
      { path: 'blobs/sha256/', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
    ];
    for (const name of (await readdir(blobs)).sort()) {
      const blob = await stat(join(blobs, name));
      entries.push({
        path: `blobs/sha256/${name}`,
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: blob.size,
        sourcePath: join(blobs, name),
      });
    }
    const archive = join(staging, 'archive.tar');
    let archiveBytes = 0;
    await pipeline(
      Readable.from(tarBlocks(entries, mtime)),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          archiveBytes += chunk.length;
          progress({ step: 'archive', bytes: archiveBytes });
          yield chunk;
        }
      },
      createWriteStream(archive, { flags: 'wx', mode: 0o644 }),
    );
    await rename(archive, output);
    return { output, sizeBytes: archiveBytes, manifest, layers };
  } catch (error) {
    throw describeError(error as NodeJS.ErrnoException, output, image.rootfs);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function jsonEntry(path: string, document: unknown): TarEntry {
  return {
    path,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    content: Buffer.from(JSON.stringify(document)),
  };
}

/** `.NAME.partial-PID-`: the staging directory of a build of `output` by process PID. */
function stagingPrefix(output: string): string {
  return `.${basename(output)}.partial-`;
}

/** What a build killed mid-way (Ctrl-C, a crash) left beside the same output: hundreds of MiB. */
async function removeAbandonedStaging(output: string): Promise<void> {
  const prefix = stagingPrefix(output);
  for (const name of await readdir(dirname(output)).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1] ?? 0);
    if (pid > 0 && pid !== process.pid && !processExists(pid)) {
      await rm(join(dirname(output), name), { recursive: true, force: true });
    }
  }
}

/**
 * A failure the user can act on: the output directory unwritable or full, or the base image
 * unreadable (its files belong to the sandboxes' shifted ids, often mode 0600). Other errors, and
 * mags' own, pass unchanged.
 */
function describeError(error: NodeJS.ErrnoException, output: string, rootfs: string): Error {
  if (error instanceof MagsError) return error;
  const directory = dirname(output);
  if (error.code === 'ENOSPC' || error.code === 'EDQUOT') {
    return new InvalidInputError(
      `The disk holding ${directory} ran full while the OCI archive was written; no archive was left.`,
      {
        code: 'disk_full',
        hint: "Free space there (about the compressed image's size, twice while it is written), or write it elsewhere with --output FILE.",
        cause: error,
      },
    );
  }
  const path = error.path ?? '';
  if (['EACCES', 'EPERM'].includes(error.code ?? '') && path.startsWith(`${rootfs}/`)) {
    return new PermissionDeniedError(`Cannot read ${path} of the base image: permission denied.`, {
      hint: "The image's files belong to the sandboxes' ids: run it as root (sudo npx mags image build --oci).",
      cause: error,
    });
  }
  if (!path.startsWith(directory)) return error;
  if (['EACCES', 'EPERM', 'EROFS'].includes(error.code ?? '')) {
    const reason = error.code === 'EROFS' ? 'a read-only filesystem' : 'permission denied';
    return new PermissionDeniedError(`Cannot write the OCI archive into ${directory}: ${reason}.`, {
      hint: 'Name a file in a writable directory: --output FILE.',
      cause: error,
    });
  }
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
    return new InvalidInputError(`Cannot write the OCI archive: ${directory} is not a directory.`, {
      hint: 'Create it first, or name a file in an existing directory: --output FILE.',
      cause: error,
    });
  }
  return error;
}
