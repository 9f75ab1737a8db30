import { defaultIdCount } from '../../config/id-mapping.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';

/**
 * A stored file's owner (uid or gid) as the image has it: the store's owners are the sandbox's ids
 * shifted by `uidBase`; anything outside that range (a file some host user left, host root's
 * own) becomes 0, so no host id leaks into an image that other machines run.
 */
export function imageIdOf(hostId: number, uidBase: number): number {
  const id = hostId - uidBase;
  return id >= 0 && id < defaultIdCount ? id : 0;
}

/**
 * An image reference as `docker`/`podman`/`skopeo` take it (the distribution/reference grammar,
 * https://github.com/distribution/reference/blob/main/regexp.go, without digests): an optional
 * registry host[:port], lower-case path components, an optional tag.
 */
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `(?:${domainComponent}(?:\\.${domainComponent})*(?::[0-9]+)?)`;
const pathComponent = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const referencePattern = new RegExp(
  `^(?:${domain}/)?${pathComponent}(?:/${pathComponent})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$`,
);

/** Refuses a `--tag` no registry tool would take, before anything is written. */
export function checkImageReference(reference: string): string {
  if (reference.length > 255 || !referencePattern.test(reference)) {
    throw new InvalidInputError(`--tag ${JSON.stringify(reference)} is not an image reference.`, {
      hint: 'Give [REGISTRY[:PORT]/]NAME[:TAG] with a lower-case name, e.g. --tag registry.example.com/mags/sandbox:1',
    });
  }
  return reference;
}
