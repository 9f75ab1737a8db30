/**
 * How a sandbox's user and group ids appear on the host. A runtime that shifts ids (the
 * namespace runtime maps root inside to an unprivileged host uid) makes one; the stores that
 * write files sandboxes see (images, workspace layers and their restores) get it from the
 * composition root, so they agree with the runtime without knowing how it isolates.
 */
export interface IdMapping {
  /** The host uid (or gid) that sandbox id `id` is stored as; root inside is `toHost(0)`. */
  toHost(id: number): number;
  /** The sandbox id of a host owner; a host id below the range (host root's) is kept as it is. */
  toSandbox(id: number): number;
}

/** No shifting: sandbox ids are host ids (a runtime whose files never touch the host's). */
export const identityIdMapping: IdMapping = {
  toHost: (id) => id,
  toSandbox: (id) => id,
};

/** Ids a sandbox has (0..65535): the range a shifting runtime maps, and an image's ids fit in. */
export const defaultIdCount = 65_536;
