import { InvalidInputError } from '../errors/mags-error.ts';

const unitMiB: Record<string, number> = {
  '': 1,
  m: 1,
  mb: 1,
  mib: 1,
  g: 1024,
  gb: 1024,
  gib: 1024,
  t: 1024 * 1024,
  tb: 1024 * 1024,
  tib: 1024 * 1024,
};

/**
 * A size a person types (`--memory 2g`, `--disk 512m`, `MAGS_DISK=1t`; a plain number is MiB) in
 * MiB, at least `minimumMiB`. Binary units whatever the spelling: `g`, `gb` and `gib` are 1024 MiB.
 */
export function parseSizeMiB(value: string, flag: string, minimumMiB: number): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const factor = match ? unitMiB[(match[2] ?? '').toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new InvalidInputError(`Invalid ${flag} ${JSON.stringify(value)}.`, {
      hint: `Give MiB or a unit: ${flag} 512, ${flag} 512m, ${flag} 2g.`,
    });
  }
  const mebibytes = Math.round(Number(match[1]) * factor);
  if (mebibytes < minimumMiB) {
    throw new InvalidInputError(`${flag} must be at least ${minimumMiB} MiB.`);
  }
  return mebibytes;
}

/** A size as `--disk` and `--memory` take it (`64M`, `10G`): the inverse of `parseSizeMiB`. */
export function formatMiB(mebibytes: number): string {
  return mebibytes % 1024 === 0 ? `${mebibytes / 1024}G` : `${mebibytes}M`;
}

/** `1.5 KiB`, `64.0 MiB`: one decimal from KiB up, so columns of sizes line up. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
