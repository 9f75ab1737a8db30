/**
 * A newc ("new ASCII") cpio archive, the format the Linux kernel unpacks an initramfs from
 * (Documentation/driver-api/early-userspace/buffer-format.rst). Written here so building the
 * guest's initramfs needs no cpio binary, and the archive is the same bytes for the same input.
 */
export type CpioEntry =
  | { type: 'directory'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; data: Buffer }
  | { type: 'character-device'; path: string; mode: number; major: number; minor: number };

const fileTypeBits = { directory: 0o040000, file: 0o100000, 'character-device': 0o020000 } as const;

/** The whole archive, trailer included; every entry owned by root, mtime 0 (reproducible). */
export function writeNewcCpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let inode = 1;
  for (const entry of entries) {
    const data = entry.type === 'file' ? entry.data : Buffer.alloc(0);
    parts.push(
      ...record(entry.path.replace(/^\/+/, ''), {
        inode: inode++,
        mode: fileTypeBits[entry.type] | (entry.mode & 0o7777),
        links: entry.type === 'directory' ? 2 : 1,
        data,
        device: entry.type === 'character-device' ? [entry.major, entry.minor] : [0, 0],
      }),
    );
  }
  parts.push(
    ...record('TRAILER!!!', { inode: 0, mode: 0, links: 1, data: Buffer.alloc(0), device: [0, 0] }),
  );
  return Buffer.concat(parts);
}

function record(
  name: string,
  fields: { inode: number; mode: number; links: number; data: Buffer; device: [number, number] },
): Buffer[] {
  if (name === '') throw new Error('cpio: an entry needs a path below /');
  const nameBytes = Buffer.from(`${name}\0`);
  // c_magic then 13 fields of 8 hex digits: ino mode uid gid nlink mtime filesize devmajor
  // devminor rdevmajor rdevminor namesize check.
  const header =
    '070701' +
    [
      fields.inode,
      fields.mode,
      0,
      0,
      fields.links,
      0,
      fields.data.length,
      0,
      0,
      fields.device[0],
      fields.device[1],
      nameBytes.length,
      0,
    ]
      .map((value) => value.toString(16).padStart(8, '0'))
      .join('');
  // The name is padded so that header + name is a multiple of 4; so is the data.
  return [
    Buffer.from(header, 'ascii'),
    nameBytes,
    Buffer.alloc(padding(110 + nameBytes.length)),
    fields.data,
    Buffer.alloc(padding(fields.data.length)),
  ];
}

function padding(length: number): number {
  return (4 - (length % 4)) % 4;
}
