import { InvalidInputError } from '../errors/mags-error.ts';

/**
 * Workspace names become directory names on every host and keys in object storage, so they are
 * restricted to a portable alphabet. `@` is reserved for versions (`name@3`), `/` and `..` can
 * never appear, so a name can never escape the workspaces directory.
 * Long enough for ticket work names (`{ticket_id}-{uuid}`).
 */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const maxWorkspaceNameLength = 100;

/** `maxLength` is larger only for the server's owner-prefixed names (`owner.name`). */
export function validateWorkspaceName(name: string, maxLength = maxWorkspaceNameLength): string {
  if (name.length === 0) {
    throw new InvalidInputError('Workspace name is empty.', {
      hint: 'Name it with letters, digits, ".", "_" or "-", e.g. -w myproject.',
    });
  }
  if (name.length > maxLength) {
    throw new InvalidInputError(
      `Workspace name is ${name.length} characters long; the limit is ${maxLength}.`,
      { hint: 'Use a shorter name.' },
    );
  }
  if (!namePattern.test(name) || name.includes('..')) {
    throw new InvalidInputError(`Invalid workspace name ${JSON.stringify(name)}.`, {
      hint: 'Use letters, digits, ".", "_" and "-" only, starting with a letter or digit (no "/", no "..").',
    });
  }
  return name;
}
