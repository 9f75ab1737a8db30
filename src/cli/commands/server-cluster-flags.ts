import type { Command } from 'commander';
import { apiOnlyNeedsSharedState } from '../../cluster/cluster-errors.ts';
import type { ClusterOptions } from '../../cluster/server-cluster.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { parsePositiveNumber } from '../parse-options.ts';

/** The flags of `mags server` for several servers and hosts on one state. */
export interface ServerClusterFlags {
  apiOnly?: boolean;
  hostId?: string;
  advertise?: string;
  heartbeat?: string;
  hostTimeout?: string;
}

export function addServerClusterOptions(command: Command): Command {
  return command
    .option(
      '--api-only',
      'serve the API and run no sandbox: every run is placed on a host sharing the state (needs --state postgres://…)',
    )
    .option(
      '--host-id <id>',
      "this host's name in the shared state, on its jobs and sandboxes (default $MAGS_HOST_ID, else the hostname)",
    )
    .option(
      '--advertise <url>',
      "the URL other servers reach this one's API at (default the listen URL)",
    )
    .option('--heartbeat <seconds>', 'how often this host tells the others it is alive', '2')
    .option(
      '--host-timeout <seconds>',
      'a host silent this long is declared gone and its jobs failed',
      '15',
    );
}

/**
 * What the flags ask of `startServer`: the host id always; the cluster (registration, placement,
 * the sweep of silent hosts) only on shared state (`state` a postgres:// URL), where other servers
 * can see it. `--api-only` on a host's own SQLite could run nothing: refused.
 */
export function serverClusterOptions(
  flags: ServerClusterFlags,
  state: string | undefined,
): { hostId?: string; cluster?: ClusterOptions } {
  const shared = state !== undefined && /^postgres(ql)?:\/\//.test(state);
  if (flags.apiOnly && !shared) throw apiOnlyNeedsSharedState();
  const hostId = flags.hostId ?? process.env.MAGS_HOST_ID;
  if (hostId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(hostId)) {
    throw new InvalidInputError(`Invalid --host-id ${JSON.stringify(hostId)}.`, {
      hint: 'Name the host with letters, digits, ".", "_" and "-" (at most 63), e.g. --host-id node-1.',
    });
  }
  const seconds = (flag: string, value: string | undefined) =>
    value === undefined ? undefined : parsePositiveNumber(flag, value) * 1000;
  const heartbeatMs = seconds('--heartbeat', flags.heartbeat);
  const hostTimeoutMs = seconds('--host-timeout', flags.hostTimeout);
  if (heartbeatMs !== undefined && hostTimeoutMs !== undefined && hostTimeoutMs < 2 * heartbeatMs) {
    throw new InvalidInputError(
      `--host-timeout ${flags.hostTimeout} s is less than two heartbeats (--heartbeat ${flags.heartbeat} s): live hosts would be declared gone.`,
      {
        hint: 'Give a --host-timeout of several heartbeats, e.g. --heartbeat 2 --host-timeout 15.',
      },
    );
  }
  if (flags.advertise !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(flags.advertise)) {
    throw new InvalidInputError(`Invalid --advertise ${JSON.stringify(flags.advertise)}.`, {
      hint: 'Give the base URL other servers reach this one at, e.g. --advertise http://10.0.0.5:7070',
    });
  }
  return {
    ...(hostId !== undefined ? { hostId } : {}),
    ...(shared
      ? {
          cluster: {
            apiOnly: flags.apiOnly ?? false,
            ...(flags.advertise ? { advertise: flags.advertise.replace(/\/$/, '') } : {}),
            ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
            ...(hostTimeoutMs !== undefined ? { hostTimeoutMs } : {}),
          },
        }
      : {}),
  };
}
