import { isUtf8 } from 'node:buffer';
import { MagsError } from '../../errors/mags-error.ts';

/**
 * A path (or symlink target) as a manifest stores it. Paths are bytes on Linux, and a sandbox may
 * name a file anything but `/` and NUL: bytes that are valid UTF-8 stay plain text (so manifests
 * stay readable, and the ones written before this encoding existed still decode), any other bytes
 * are kept exactly as `{ "base64": ... }`. Decoding them as UTF-8 would put U+FFFD in their place.
 */
export type ManifestPath = string | { base64: string };

export function encodeManifestPath(bytes: Buffer): ManifestPath {
  return isUtf8(bytes) ? bytes.toString('utf8') : { base64: bytes.toString('base64') };
}

export function decodeManifestPath(path: ManifestPath): Buffer {
  return typeof path === 'string' ? Buffer.from(path, 'utf8') : Buffer.from(path.base64, 'base64');
}

/**
 * A string key for a path in a JSON record or a Map: the text itself when it is UTF-8 (so the
 * sync state written before this encoding existed keeps matching), else NUL plus base64, which no
 * real path can collide with (a path never contains NUL).
 */
export function pathKey(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString('utf8') : `\0${bytes.toString('base64')}`;
}

/** For messages only: invalid bytes are shown as U+FFFD. */
export function displayPath(path: ManifestPath | Buffer): string {
  return (Buffer.isBuffer(path) ? path : decodeManifestPath(path)).toString('utf8');
}

/**
 * `directory/relative` as bytes, for the fs calls (they all take Buffer paths). The relative path
 * comes from a manifest, so it is checked first: a path with an empty, `.` or `..` component
 * could write outside the layer being restored (pull-workspace.ts also refuses a path through a
 * symlink the same restore made).
 */
export function pathBelow(directory: string, relative: ManifestPath): Buffer {
  const bytes = decodeManifestPath(relative);
  // latin1 maps each byte to one character, so splitting on '/' splits exactly on byte 0x2F.
  for (const component of bytes.toString('latin1').split('/')) {
    if (component === '' || component === '.' || component === '..' || component.includes('\0')) {
      throw new MagsError(
        `The workspace manifest names a path outside its layer (${JSON.stringify(displayPath(bytes))}): the store is corrupted.`,
        {
          code: 'manifest_corrupted',
          hint: 'Restore another version (mags workspace versions NAME), or repair the store.',
        },
      );
    }
  }
  return Buffer.concat([Buffer.from(`${directory}/`), bytes]);
}
