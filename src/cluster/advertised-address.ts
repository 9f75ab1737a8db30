import { InvalidInputError } from '../errors/mags-error.ts';

/**
 * `--advertise`, checked: an http(s) base URL and nothing else. A path or query would be lost
 * (the forwarder appends the request's own), and credentials in it would be sent to every host.
 */
export function parseAdvertise(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const plain =
    url !== undefined &&
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.username === '' &&
    url.password === '' &&
    url.pathname === '/' &&
    url.search === '' &&
    url.hash === '' &&
    !value.includes('?') &&
    !value.includes('#');
  if (!url || !plain) {
    throw new InvalidInputError(`Invalid --advertise ${JSON.stringify(value)}.`, {
      code: 'invalid_advertise',
      hint: 'Give the base URL other servers reach this one at: http(s), host and port only, no path, query or credentials, e.g. --advertise http://10.0.0.5:7070',
    });
  }
  return url.origin;
}

/** 0.0.0.0 or :: (any spelling): an address to listen on, never one to be reached at. */
export function isUnspecifiedAddress(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === '0.0.0.0' || /^[0:]+$/.test(bare);
}

/** 127.0.0.0/8, ::1, localhost: reachable from this machine only. */
export function isLoopbackAddress(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/**
 * A host on shared state listening on every address (0.0.0.0, ::) without `--advertise`: its
 * listen URL names no machine, so other servers would send owners' requests (and tokens) to their
 * own port of that number. Refused before it starts.
 */
export function advertiseNeeded(listenHost: string): InvalidInputError {
  return new InvalidInputError(
    `This host listens on ${listenHost} (every address) and gives no --advertise: other servers would forward its sandboxes' requests, with their owners' tokens, to their own port of that number.`,
    {
      code: 'advertise_needed',
      hint: 'Give the URL other servers reach this host at, e.g. --advertise http://10.0.0.5:7070 (https:// if the network is not trusted), or --api-only for a server that runs no sandbox.',
    },
  );
}

/**
 * The address a host registers for the other servers: `advertise` when given, else its listen
 * URL, refused when that names no machine (`advertiseNeeded`).
 */
export function advertisedAddress(advertise: string | undefined, listenUrl: string): string {
  if (advertise !== undefined) return advertise;
  const { hostname } = new URL(listenUrl);
  if (isUnspecifiedAddress(hostname)) throw advertiseNeeded(hostname);
  return listenUrl;
}
