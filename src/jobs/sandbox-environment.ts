import { InvalidInputError } from '../errors/mags-error.ts';

const environmentKeyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A command's environment: the sandbox's defaults, then the user's (names checked). */
export function sandboxEnvironment(user: Record<string, string>): Record<string, string> {
  for (const key of Object.keys(user)) {
    if (!environmentKeyPattern.test(key)) {
      throw new InvalidInputError(`Invalid environment variable name ${JSON.stringify(key)}.`, {
        hint: 'Use --env NAME=value with NAME made of letters, digits and "_".',
      });
    }
  }
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
    USER: 'root',
    // Node.js trusts only its built-in roots; the image's bundle includes the host's own CAs.
    NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
    ...user,
  };
}
