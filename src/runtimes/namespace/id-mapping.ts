import { defaultIdCount, type IdMapping } from '../../config/id-mapping.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';

export const defaultUidBase = 100_000;
export { defaultIdCount };

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

/**
 * The mapping the namespace runtime's settings ask for: `MAGS_UID_BASE` (default 100000) is the
 * host uid root inside a sandbox maps to. The composition root makes the stores with it, and the
 * runtime's factory reads the same setting, so both agree.
 */
export function namespaceIdMapping(environment: NodeJS.ProcessEnv): ShiftedIdMapping {
  const setting = environment.MAGS_UID_BASE;
  const uidBase = setting ? Number(setting) : defaultUidBase;
  if (!Number.isInteger(uidBase) || uidBase < 1) {
    throw new InvalidInputError(`MAGS_UID_BASE must be a positive integer, not ${setting}.`);
  }
  return createShiftedIdMapping({ uidBase });
}
