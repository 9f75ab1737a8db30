import { InvalidInputError } from '../errors/mags-error.ts';

/**
 * One name or id as a URL path segment. encodeURIComponent leaves "." and ".." as they are, and
 * URL parsing resolves them, so `sandboxes.get('..')` would reach another route of the same
 * owner: they (and the empty string) are refused before any request is sent.
 */
export function pathSegment(value: string, what = 'name'): string {
  if (value === '' || value === '.' || value === '..') {
    throw new InvalidInputError(`${JSON.stringify(value)} is not a valid ${what}.`, {
      hint: 'Names and ids start with a letter or digit (letters, digits, ".", "_", "-").',
    });
  }
  return encodeURIComponent(value);
}
