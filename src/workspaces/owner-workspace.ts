import { InvalidInputError } from '../errors/mags-error.ts';
import { maxWorkspaceNameLength, validateWorkspaceName } from '../workspaces/workspace-name.ts';

/**
 * The owner of everything the CLI does in-process and of the host's local server: its workspaces
 * keep their plain names, so `mags run -w W` and the local server see the same W. That also
 * lets it name any owner's workspace (`alice.app`), as the host's root can anyway: the name is
 * reserved (no `mags token create --owner local`), and only the local server's own admin token
 * carries it (`createLocalServerToken`).
 */
export const localOwner = 'local';

const ownerPattern = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/** Owners have no ".", so `owner.name` splits one way only: no two owners' names ever meet. */
export const isValidOwner = (owner: string) => ownerPattern.test(owner);

export function validateOwner(owner: string): string {
  if (!isValidOwner(owner)) {
    throw new InvalidInputError(`Invalid owner ${JSON.stringify(owner)}.`, {
      hint: 'An owner is 1-32 lower-case letters, digits and "-", e.g. --owner alice.',
    });
  }
  return owner;
}

/**
 * Where an owner's workspace lives on disk and in object storage. Every other owner's names are
 * prefixed with `owner.` (owners have no "."), so two owners' "app" never meet and no owner can
 * reach, or learn of, another's workspace by guessing its name.
 */
export function ownerWorkspaceName(owner: string, name: string): string {
  validateWorkspaceName(name);
  if (owner === localOwner) return name;
  return validateWorkspaceName(`${validateOwner(owner)}.${name}`, maxWorkspaceNameLength + 33);
}

/**
 * Whether a storage name (`ownerWorkspaceName`) is one of `owner`'s workspaces. The local owner's
 * are the names not in the `owner.name` form (its own `a.b` counts as owner a's here: local is an
 * admin and sees the host's figures anyway).
 */
export function ownsStorageName(owner: string, storageName: string): boolean {
  const dot = storageName.indexOf('.');
  const prefix = dot < 0 ? undefined : storageName.slice(0, dot);
  if (owner === localOwner) return prefix === undefined || !isValidOwner(prefix);
  return prefix === owner;
}

/**
 * The inverse of `ownerWorkspaceName`: the name `owner` knows an internal workspace name by, or
 * undefined when it is not one of theirs. Errors raised below the API speak of internal names;
 * this is how they are put back into the owner's words.
 */
export function ownerWorkspaceDisplayName(owner: string, internal: string): string | undefined {
  if (owner === localOwner) return internal;
  const prefix = `${owner}.`;
  return internal.startsWith(prefix) ? internal.slice(prefix.length) : undefined;
}
