import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { nativeBinaryPath } from '../../config/package-paths.ts';

const execFileAsync = promisify(execFile);

export interface LayerEntry {
  /** Relative to the layer, as the bytes the kernel returned: names need not be UTF-8. */
  path: Buffer;
  type: 'f' | 'd' | 'l' | 'w' | 'o';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: string;
  inode: string;
  links: number;
  opaque: boolean;
  /** A symlink's target, as bytes (empty for other types). */
  target: Buffer;
}

const fieldsPerEntry = 11;

/** Every entry below an overlay upper directory, parents before children (`mags-layer scan`). */
export async function scanLayer(directory: string): Promise<LayerEntry[]> {
  const { stdout } = await execFileAsync(nativeBinaryPath('mags-layer'), ['scan', directory], {
    encoding: 'buffer',
    maxBuffer: 1024 * 1024 * 1024,
  });
  // Paths are bytes on Linux: the fields are split as bytes, and only the numbers become text.
  const fields = splitOnNul(stdout);
  const entries: LayerEntry[] = [];
  for (let index = 0; index + fieldsPerEntry <= fields.length; index += fieldsPerEntry) {
    const bytes = (offset: number) => fields[index + offset] as Buffer;
    const text = (offset: number) => bytes(offset).toString('latin1');
    entries.push({
      path: bytes(0),
      type: text(1) as LayerEntry['type'],
      mode: Number(text(2)),
      uid: Number(text(3)),
      gid: Number(text(4)),
      size: Number(text(5)),
      mtimeNs: text(6),
      inode: text(7),
      links: Number(text(8)),
      opaque: text(9) === '1',
      target: bytes(10),
    });
  }
  return entries;
}

function splitOnNul(data: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  let start = 0;
  for (let end = data.indexOf(0, start); end !== -1; end = data.indexOf(0, start)) {
    fields.push(data.subarray(start, end));
    start = end + 1;
  }
  return fields;
}
