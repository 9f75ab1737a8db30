import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { nativeBinaryPath } from '../../config/package-paths.ts';

const execFileAsync = promisify(execFile);

export interface LayerEntry {
  path: string;
  type: 'f' | 'd' | 'l' | 'w' | 'o';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: string;
  inode: string;
  links: number;
  opaque: boolean;
  target: string;
}

const fieldsPerEntry = 11;

/** Every entry below an overlay upper directory, parents before children (`mags-layer scan`). */
export async function scanLayer(directory: string): Promise<LayerEntry[]> {
  const { stdout } = await execFileAsync(nativeBinaryPath('mags-layer'), ['scan', directory], {
    encoding: 'buffer',
    maxBuffer: 1024 * 1024 * 1024,
  });
  // Paths are bytes on Linux; names that are not UTF-8 are rare enough to accept lossy decoding.
  const fields = stdout.toString('utf8').split('\0');
  const entries: LayerEntry[] = [];
  for (let index = 0; index + fieldsPerEntry <= fields.length; index += fieldsPerEntry) {
    const f = (offset: number) => fields[index + offset] as string;
    entries.push({
      path: f(0),
      type: f(1) as LayerEntry['type'],
      mode: Number(f(2)),
      uid: Number(f(3)),
      gid: Number(f(4)),
      size: Number(f(5)),
      mtimeNs: f(6),
      inode: f(7),
      links: Number(f(8)),
      opaque: f(9) === '1',
      target: f(10),
    });
  }
  return entries;
}
