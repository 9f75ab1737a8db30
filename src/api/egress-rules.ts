/**
 * Egress allow-lists (`--allow-host`, `--allow-cidr`, the API's `allow`): parsing the CLI's words
 * and checking rules, for the schema, the CLI and the server's defaults alike. What a launcher is
 * given is src/runtimes/egress-policy.ts; the enforcement is native/egress.c (nftables in the
 * sandbox's network namespace) and native/dns-filter.c (the DNS filter).
 */
import { InvalidInputError } from '../errors/mags-error.ts';

/**
 * One entry of an egress allow-list: a host name (`*.example.com`: every name below it, not the
 * name itself) or an IPv4 CIDR, on one port or, without `port`, on every port.
 */
export type EgressRule = { host: string; port?: number } | { cidr: string; port?: number };

/** The launcher's limit (EGRESS_MAX_RULES in native/egress.h). */
export const maxEgressRules = 64;

/**
 * Ranges no rule opens, whatever the list says (FORBIDDEN_TEXT in native/egress.c): "this
 * network", slirp4netns's virtual network (10.0.2.2 is the host, 10.0.2.3 its DNS forwarder),
 * loopback, link-local (the cloud metadata service, 169.254.169.254), multicast and reserved.
 */
const forbiddenRanges: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.2.0', 24],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['224.0.0.0', 3],
];

const ipv4Pattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const labelPattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function ipv4Number(text: string): number | undefined {
  const match = ipv4Pattern.exec(text);
  if (!match) return undefined;
  const octets = match.slice(1).map(Number);
  if (octets.some((octet) => octet > 255)) return undefined;
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function forbiddenRange(address: number, prefix: number): string | undefined {
  for (const [base, rangePrefix] of forbiddenRanges) {
    const start = ipv4Number(base) ?? 0;
    if (prefix >= rangePrefix && (address & maskOf(rangePrefix)) >>> 0 === start) {
      return `${base}/${rangePrefix}`;
    }
  }
  return undefined;
}

const forbiddenHint =
  "The host's loopback (127.0.0.0/8, 10.0.2.2), the sandbox network's DNS (10.0.2.3) and the link-local metadata range (169.254.0.0/16) are never reachable from a sandbox.";

function checkPort(port: number | undefined, what: string): void {
  if (port === undefined) return;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidInputError(`Bad port ${port} in ${what}: ports are 1 to 65535.`, {
      hint: 'Give HOST:PORT (e.g. registry.npmjs.org:443), or the host alone for every port.',
    });
  }
}

/** A host name per RFC 1123 (lower case), or `*.` and one; returns it in lower case. */
function checkHostName(host: string): string {
  const name = host.toLowerCase();
  const bare = name.startsWith('*.') ? name.slice(2) : name;
  const labels = bare.split('.');
  if (
    bare.length === 0 ||
    bare.length > 253 ||
    !labels.every((label) => labelPattern.test(label))
  ) {
    throw new InvalidInputError(`Bad host name ${JSON.stringify(host)} in an allow-list.`, {
      hint: 'Give a host name (letters, digits, "-", dot-separated, e.g. registry.npmjs.org), *.example.com for every name below one, or an IPv4 address.',
    });
  }
  if (bare === 'localhost' || bare.endsWith('.localhost')) {
    throw new InvalidInputError(`${host} cannot be allowed.`, { hint: forbiddenHint });
  }
  return name;
}

function checkCidr(cidr: string): string {
  const [address, prefixText, ...rest] = cidr.split('/');
  const number = ipv4Number(address ?? '');
  const prefix = Number(prefixText);
  if (
    number === undefined ||
    rest.length > 0 ||
    !/^\d{1,2}$/.test(prefixText ?? '') ||
    prefix > 32
  ) {
    throw new InvalidInputError(`Bad CIDR ${JSON.stringify(cidr)} in an allow-list.`, {
      hint: 'Give an IPv4 range as A.B.C.D/N (N from 0 to 32), e.g. 203.0.113.0/24.',
    });
  }
  const forbidden = forbiddenRange(number, prefix);
  if (forbidden) {
    throw new InvalidInputError(`${cidr} is in ${forbidden}, which a sandbox never reaches.`, {
      hint: forbiddenHint,
    });
  }
  return cidr;
}

/**
 * Checks one rule and returns it normalised: a name in lower case, an IPv4 address given as a
 * host turned into a /32 (no lookup happens for a literal address, so a name rule would not do).
 */
export function normaliseEgressRule(rule: EgressRule): EgressRule {
  const port = rule.port === undefined ? {} : { port: rule.port };
  if ('host' in rule) {
    checkPort(rule.port, rule.host);
    if (ipv4Number(rule.host) !== undefined) return { cidr: checkCidr(`${rule.host}/32`), ...port };
    return { host: checkHostName(rule.host), ...port };
  }
  checkPort(rule.port, rule.cidr);
  return { cidr: checkCidr(rule.cidr), ...port };
}

export function normaliseEgressRules(rules: EgressRule[]): EgressRule[] {
  if (rules.length > maxEgressRules) {
    throw new InvalidInputError(`${rules.length} allow-list rules are too many.`, {
      hint: `Give at most ${maxEgressRules}; a *.example.com rule or a CIDR covers many.`,
    });
  }
  return rules.map(normaliseEgressRule);
}

/** The number after the last ':' of a CLI word, when there is one. */
function splitPort(word: string, flag: string): { value: string; port?: number } {
  const colon = word.lastIndexOf(':');
  if (colon < 0) return { value: word };
  const text = word.slice(colon + 1);
  if (!/^\d{1,5}$/.test(text)) {
    throw new InvalidInputError(`Bad port in ${flag} ${word}.`, {
      hint: `Give ${flag} VALUE:PORT with a port from 1 to 65535, or VALUE alone for every port.`,
    });
  }
  return { value: word.slice(0, colon), port: Number(text) };
}

/** `--allow-host HOST[:PORT]` and `--allow-cidr CIDR[:PORT]` words as rules (checked). */
export function parseAllowFlags(hosts: string[], cidrs: string[]): EgressRule[] {
  const rules: EgressRule[] = [
    ...hosts.map((word) => {
      const { value, port } = splitPort(word, '--allow-host');
      return { host: value, ...(port === undefined ? {} : { port }) };
    }),
    ...cidrs.map((word) => {
      const { value, port } = splitPort(word, '--allow-cidr');
      return { cidr: value, ...(port === undefined ? {} : { port }) };
    }),
  ];
  return normaliseEgressRules(rules);
}

/**
 * The same list in any order and with any repeats, as one string: what a parked sandbox is
 * compared by (the rules are normalised already: lower-case names, addresses as /32).
 */
export function egressKey(allow: EgressRule[] | undefined): string {
  const rules = (allow ?? []).map(
    (rule) => `${'host' in rule ? rule.host : rule.cidr}:${rule.port ?? 0}`,
  );
  return [...new Set(rules)].sort().join(',');
}

/**
 * The allow-list a run or sandbox gets: its own, else the server's default when it asked for
 * network (`mags server --allow-host`: a default, not a ceiling; a run's own list replaces it).
 */
export function egressAllowList(
  own: EgressRule[] | undefined,
  network: boolean | undefined,
  defaults: EgressRule[] | undefined,
): { allow?: EgressRule[] } {
  const allow = own?.length ? own : network ? defaults : undefined;
  return allow?.length ? { allow } : {};
}
