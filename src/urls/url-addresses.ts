import { createHash } from 'node:crypto';

/** The query parameter and cookie that carry a signed link (stripped before forwarding). */
export const linkParameter = 'mags_link';

/** `/u/ID/...`: the path form of a URL, for a server without a wildcard domain. */
const pathForm = /^\/u\/(url_[0-9a-f]{16})(\/[^?#]*)?(\?.*)?$/;

/** `PORT-NAME-TAG`: what hostLabelFor makes, and the only host labels the proxy claims. */
const hostLabelShape = /^\d{1,5}-[a-z0-9-]+-[0-9a-f]{8}$/;

/**
 * Eight hex digits of the owner's name's SHA-256: in a host label, it keeps two owners' sandboxes
 * of the same name apart without spelling out who owns them.
 */
export function ownerTag(owner: string): string {
  return createHash('sha256').update(owner).digest('hex').slice(0, 8);
}

/**
 * The host label of the host form, `PORT-NAME-TAG` (e.g. `8080-web-3f2a9c1d`), or null when the
 * sandbox's name cannot be part of a DNS label (upper case, `.` or `_`, too long): such a
 * sandbox's URL takes the path form.
 */
export function hostLabelFor(owner: string, sandbox: string, port: number): string | null {
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(sandbox)) return null;
  const label = `${port}-${sandbox}-${ownerTag(owner)}`;
  return label.length <= 63 ? label : null; // RFC 1035: a label is at most 63 octets
}

/** The label of a request's `Host` under `domain` (one label deep), or undefined. */
export function hostLabelOf(host: string | undefined, domain: string): string | undefined {
  if (!host) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  if (!name.endsWith(suffix)) return undefined;
  const label = name.slice(0, -suffix.length);
  // Only the shape hostLabelFor makes is the proxy's: other names under the domain (www, api)
  // stay the server's own.
  return label.length <= 63 && hostLabelShape.test(label) ? label : undefined;
}

/** A path-form request: the URL's id and the path (with its query) the sandbox's server sees. */
export function parsePathForm(
  path: string,
): { urlId: string; forwardPath: string; bare: boolean } | undefined {
  const match = pathForm.exec(path);
  if (!match) return undefined;
  return {
    urlId: match[1] as string,
    forwardPath: `${match[2] ?? '/'}${match[3] ?? ''}`,
    // `/u/ID` without the slash: relative links would resolve above it, so it is redirected.
    bare: match[2] === undefined,
  };
}

/** Whether a request is the proxy's: a host under the URL domain, or a path under `/u/`. */
export function isUrlRequest(host: string | undefined, path: string, domain?: string): boolean {
  if (domain && hostLabelOf(host, domain)) return true;
  return path === '/u' || path.startsWith('/u/');
}

/** A URL's address as a user opens it, from the origin the API was reached at. */
export function urlAddress(
  record: { id: string; hostLabel: string | null },
  origin: URL,
  domain?: string,
): string {
  if (domain && record.hostLabel) {
    const port = origin.port ? `:${origin.port}` : '';
    return `${origin.protocol}//${record.hostLabel}.${domain}${port}/`;
  }
  return `${origin.origin}/u/${record.id}/`;
}
