import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IdMapping } from '../config/id-mapping.ts';
import { processExists } from '../config/process-exists.ts';
import { uniqueSuffix } from '../config/unique-suffix.ts';
import {
  ConflictError,
  DependencyMissingError,
  InvalidInputError,
  NotFoundError,
} from '../errors/mags-error.ts';
import { ensureImageDefaultsLayer, imageDefaultsLayerPath } from './image-defaults.ts';

export interface ImageInfo {
  name: string;
  /** The image's root filesystem, owned by the sandbox's shifted ids; the overlay's lowest layer. */
  rootfs: string;
  createdAt: string;
  /** The host uid that owns the image's root directory (sandbox root, as the runtime maps it). */
  uidBase: number;
  sizeBytes: number;
  debianRelease: string;
  versions: Record<string, string>;
  /**
   * The read-only layers a sandbox of this image stacks, the top-most first: `rootfs`, then the
   * layer of mags' defaults (image-defaults.ts: a git identity, a quiet npm) that fills in only
   * what the image lacks. `require` makes sure they exist.
   */
  lowerLayers: string[];
}

/** What `image.json` records: the paths are the store's to decide. */
type StoredImageInfo = Omit<ImageInfo, 'rootfs' | 'lowerLayers'>;

export interface BuildProgress {
  step: string;
  detail?: string;
}

export interface BuildOptions {
  name?: string;
  /** Rebuild even when the image exists; the old one stays usable until the new one is in place. */
  force?: boolean;
  onProgress?: (event: BuildProgress) => void;
}

const namePattern = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function validateImageName(name: string): string {
  if (!namePattern.test(name)) {
    throw new InvalidInputError(`Invalid image name ${JSON.stringify(name)}.`, {
      hint: 'Use lowercase letters, digits, ".", "_" and "-", starting with a letter or digit.',
    });
  }
  return name;
}

/** Base images under `${home}/images/NAME/` (`rootfs/` and `image.json`), built atomically. */
export class ImageStore {
  readonly #root: string;
  /** How the runtime maps sandbox ids: a built image's files belong to the sandbox's ids. */
  readonly #idMapping: IdMapping;

  constructor(options: { home: string; idMapping: IdMapping }) {
    this.#root = join(options.home, 'images');
    this.#idMapping = options.idMapping;
  }

  async get(name = 'default'): Promise<ImageInfo | undefined> {
    const directory = join(this.#root, validateImageName(name));
    const text = await readFile(join(directory, 'image.json'), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    return this.#withLayers(directory, JSON.parse(text) as StoredImageInfo);
  }

  /**
   * The image, ready to be mounted: the defaults layer is made the first time it is needed, so an
   * image built by an older mags gets the defaults without a rebuild and no image is written to.
   */
  async require(name = 'default'): Promise<ImageInfo> {
    const image = await this.get(name);
    if (!image) {
      throw new DependencyMissingError(`The base image ${JSON.stringify(name)} is not built.`, {
        hint: `Build it once (about two minutes, needs root): npx mags image build${name === 'default' ? '' : ` --name ${name}`}`,
      });
    }
    await ensureImageDefaultsLayer(
      imageDefaultsLayerPath(this.#root, image.uidBase),
      image.uidBase,
    );
    return image;
  }

  #withLayers(directory: string, stored: StoredImageInfo): ImageInfo {
    const rootfs = join(directory, 'rootfs');
    // Below the image, not above: a merged directory shows the owner and mode of its top-most
    // layer's copy (fs/overlayfs/inode.c, ovl_getattr), so the image keeps its /etc's and /usr's.
    const defaults = imageDefaultsLayerPath(this.#root, stored.uidBase);
    return { ...stored, rootfs, lowerLayers: [rootfs, defaults] };
  }

  async list(): Promise<ImageInfo[]> {
    const names = await readdir(this.#root).catch(() => [] as string[]);
    const images: ImageInfo[] = [];
    for (const name of names.sort()) {
      if (!namePattern.test(name)) continue;
      const image = await this.get(name).catch(() => undefined);
      if (image) images.push(image);
    }
    return images;
  }

  async delete(name: string): Promise<void> {
    const directory = join(this.#root, validateImageName(name));
    if (!(await this.get(name)))
      throw new NotFoundError(`Image ${JSON.stringify(name)} does not exist.`);
    const trash = join(this.#root, `.deleted-${name}-${uniqueSuffix()}`);
    await rename(directory, trash);
    await rm(trash, { recursive: true, force: true });
  }

  /**
   * Builds into `.building-NAME-*` and renames into place only when complete, so a crash never
   * leaves a half image that `get` would return.
   */
  async build(options: BuildOptions): Promise<ImageInfo> {
    const name = validateImageName(options.name ?? 'default');
    const existing = await this.get(name);
    if (existing && !options.force) return existing;
    if (process.getuid?.() !== 0) {
      throw new DependencyMissingError(
        'Building an image needs root (debootstrap, chroot, chown).',
        {
          hint: 'Run it as root: npx mags image build in a root shell, or sudo npx mags image build',
        },
      );
    }
    if (!['/usr/sbin/debootstrap', '/usr/bin/debootstrap'].some((path) => existsSync(path))) {
      throw new DependencyMissingError('debootstrap is not installed.', {
        hint: 'apt-get install debootstrap',
      });
    }
    await mkdir(this.#root, { recursive: true, mode: 0o711 });
    await chmod(this.#root, 0o711);
    // The recipe is loaded only here: running a sandbox never needs it.
    const [{ buildRootfs }, { shiftOwnership }] = await Promise.all([
      import('./build-rootfs.ts'),
      import('./shift-ownership.ts'),
    ]);
    const releaseLock = await this.#lock(name);
    const staging = join(this.#root, `.building-${name}-${uniqueSuffix()}`);
    const progress = options.onProgress ?? (() => {});
    const scratch = await mkdtemp(join(tmpdir(), 'mags-image-'));
    try {
      await this.#removeStale(name);
      const rootfs = join(staging, 'rootfs');
      await mkdir(rootfs, { recursive: true });
      const built = await buildRootfs({
        rootfs,
        scratch,
        cacheDirectory: join(this.#root, '.cache'),
        logPath: join(this.#root, `${name}.build.log`),
        onProgress: progress,
      });
      const uidBase = this.#idMapping.toHost(0);
      progress({ step: 'shifting ownership', detail: `to uid ${uidBase}` });
      await shiftOwnership(rootfs, this.#idMapping);
      const info: StoredImageInfo = {
        name,
        createdAt: new Date().toISOString(),
        uidBase,
        sizeBytes: built.sizeBytes,
        debianRelease: built.debianRelease,
        versions: built.versions,
      };
      await writeFile(join(staging, 'image.json'), `${JSON.stringify(info, null, 2)}\n`);
      // The sandbox's host uid must walk down to rootfs/ (see check-traversable.ts).
      await chmod(staging, 0o711);
      progress({ step: 'finalizing' });
      const target = join(this.#root, name);
      if (existsSync(target)) {
        const old = join(this.#root, `.deleted-${name}-${uniqueSuffix()}`);
        await rename(target, old);
        await rename(staging, target);
        await rm(old, { recursive: true, force: true });
      } else {
        await rename(staging, target);
      }
      return this.#withLayers(target, info);
    } finally {
      await rm(staging, { recursive: true, force: true });
      await rm(scratch, { recursive: true, force: true });
      await releaseLock();
    }
  }

  /** One build per image at a time; a lock left by a dead process is taken over. */
  async #lock(name: string): Promise<() => Promise<void>> {
    const path = join(this.#root, `.build-${name}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, String(process.pid), { flag: 'wx' });
        return () => rm(path, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number(await readFile(path, 'utf8').catch(() => '0'));
        if (owner > 0 && processExists(owner)) {
          throw new ConflictError(`Image ${name} is already being built by process ${owner}.`, {
            hint: 'Wait for that build to finish.',
          });
        }
        await rm(path, { force: true });
      }
    }
    throw new ConflictError(`Could not lock the build of image ${name}.`);
  }

  async #removeStale(name: string): Promise<void> {
    for (const entry of await readdir(this.#root)) {
      if (entry.startsWith(`.building-${name}-`) || entry.startsWith(`.deleted-${name}-`)) {
        await rm(join(this.#root, entry), { recursive: true, force: true });
      }
    }
  }
}
