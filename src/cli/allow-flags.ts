import type { Command } from 'commander';
import { parseAllowFlags } from '../api/egress-rules.ts';
import type { EgressRule } from '../runtimes/runtime.ts';
import { collect } from './parse-options.ts';

/**
 * `--allow-host` and `--allow-cidr` on a command: a run's or sandbox's own list (`mags run`,
 * `mags new`), or the server's default list (`mags server`). Returns the command, for chaining.
 */
export function addAllowOptions(command: Command, use: 'own' | 'server' = 'own'): Command {
  const own = use === 'own';
  return command
    .option(
      '--allow-host <host[:port]>',
      own
        ? 'allow egress to HOST only (implies --net; repeatable; *.example.com for every name below one; e.g. --allow-host registry.npmjs.org:443)'
        : 'the egress allow-list a run or sandbox with --net gets when it gives none (repeatable; its own list replaces it)',
      collect,
      [],
    )
    .option(
      '--allow-cidr <cidr[:port]>',
      own
        ? 'allow egress to an IPv4 range (implies --net; repeatable; e.g. --allow-cidr 203.0.113.0/24:443)'
        : 'an IPv4 range of that default allow-list (repeatable)',
      collect,
      [],
    );
}

/** `--allow-host` and `--allow-cidr` as the API's `allow` (absent when neither was given). */
export function allowOption(
  hosts: string[] | undefined,
  cidrs: string[] | undefined,
): { allow?: EgressRule[] } {
  const allow = parseAllowFlags(hosts ?? [], cidrs ?? []);
  return allow.length > 0 ? { allow } : {};
}
