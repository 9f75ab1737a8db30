const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/**
 * A byte count as people read it: `512 B`, `1.5 KiB`, `64.0 MiB` (binary units, one decimal
 * from KiB up so columns of sizes line up; the CLI's src/config/byte-sizes.ts writes the same).
 * `—` when there is no figure (a workspace never measured).
 */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  let value = bytes;
  let unit = 0;
  // 1023.96 KiB would print as "1024.0 KiB": the next unit up from where it rounds over.
  while (value >= 1023.95 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}
