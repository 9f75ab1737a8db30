/**
 * The network policy of a sandbox spec, and what the launcher (native/sandbox.c) is given for it.
 */
import { normaliseEgressRules } from '../api/egress-rules.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { EgressRule, NetworkPolicy, Runtime } from './runtime.ts';

/**
 * The network policy of a run or sandbox: an allow-list implies network; `network` alone is
 * everything (`all`).
 */
export function networkPolicy(network: boolean | undefined, allow?: EgressRule[]): NetworkPolicy {
  if (allow && allow.length > 0) return { egress: { allow: normaliseEgressRules(allow) } };
  return { egress: network ? 'all' : 'none' };
}

export function hasNetwork(policy: NetworkPolicy): boolean {
  return policy.egress !== 'none';
}

/** The launcher's options for a policy (native/sandbox.c): `--net`, and the rules when listed. */
export function egressLauncherPairs(policy: NetworkPolicy, logPath: string): string[][] {
  if (policy.egress === 'none') return [];
  if (policy.egress === 'all') return [['--net', '1']];
  return [
    ['--net', '1'],
    ['--egress-log', logPath],
    ...policy.egress.allow.map((rule) => {
      const port = rule.port === undefined ? '' : `:${rule.port}`;
      return 'host' in rule
        ? ['--allow-host', `${rule.host}${port}`]
        : ['--allow-cidr', `${rule.cidr}${port}`];
    }),
  ];
}

/**
 * Refuses an allow-list up front on a runtime that cannot filter egress (a 400 the caller sees,
 * before anything is recorded); `startOrExplain` refuses it again at start.
 */
export function checkAllowListSupported(
  runtime: Pick<Runtime, 'name' | 'capabilities'>,
  allow: EgressRule[] | undefined,
): void {
  if (!allow?.length || runtime.capabilities.egressAllowList) return;
  throw new InvalidInputError(`The ${runtime.name} runtime cannot limit egress to an allow-list.`, {
    hint: 'Run it on a runtime that can (namespace, qemu), or give --net for all of the network.',
  });
}
