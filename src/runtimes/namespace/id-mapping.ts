import type { IdMapping } from '../../config/id-mapping.ts';

export const defaultUidBase = 100_000;
export const defaultIdCount = 65_536;

/** The namespace runtime's id mapping: sandbox ids 0..idCount-1 are host ids uidBase.. on. */
export interface ShiftedIdMapping extends IdMapping {
  /** Host uid/gid that root inside the sandbox maps to (subordinate ids, never host root). */
  readonly uidBase: number;
  readonly idCount: number;
}

export function createShiftedIdMapping(
  options: { uidBase?: number; idCount?: number } = {},
): ShiftedIdMapping {
  const uidBase = options.uidBase ?? defaultUidBase;
  const idCount = options.idCount ?? defaultIdCount;
  return {
    uidBase,
    idCount,
    toHost: (id) => id + uidBase,
    toSandbox: (id) => (id >= uidBase ? id - uidBase : id),
  };
}
