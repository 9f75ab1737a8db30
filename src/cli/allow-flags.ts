import { parseAllowFlags } from '../api/egress-rules.ts';
import type { EgressRule } from '../runtimes/runtime.ts';

/** `--allow-host` and `--allow-cidr` as the API's `allow` (absent when neither was given). */
export function allowOption(
  hosts: string[] | undefined,
  cidrs: string[] | undefined,
): { allow?: EgressRule[] } {
  const allow = parseAllowFlags(hosts ?? [], cidrs ?? []);
  return allow.length > 0 ? { allow } : {};
}
