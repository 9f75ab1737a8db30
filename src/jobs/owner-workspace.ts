import { InvalidInputError } from '../errors/mags-error.ts';
import { maxWorkspaceNameLength, validateWorkspaceName } from '../workspaces/workspace-name.ts';

/**
 * The owner of everything the CLI does in-process and of the host's local server: its workspaces
 * keep their plain names, so `mags run -w W` and the local server see the same W.
 */
export const localOwner = 'local';

const ownerPattern = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

export function validateOwner(owner: string): string {
  if (!ownerPattern.test(owner)) {
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
 * The inverse of `ownerWorkspaceName`: the name `owner` knows an internal workspace name by, or
 * undefined when it is not one of theirs. Errors raised below the API speak of internal names;
 * this is how they are put back into the owner's words.
 */
export function ownerWorkspaceDisplayName(owner: string, internal: string): string | undefined {
  if (owner === localOwner) return internal;
  const prefix = `${owner}.`;
  return internal.startsWith(prefix) ? internal.slice(prefix.length) : undefined;
}
