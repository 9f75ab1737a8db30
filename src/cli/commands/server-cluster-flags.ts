import type { Command } from 'commander';
import {
  advertiseNeeded,
  isUnspecifiedAddress,
  parseAdvertise,
} from '../../cluster/advertised-address.ts';
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
  /** The address it listens on (`--host`): 0.0.0.0 or :: needs `--advertise` on shared state. */
  listenHost = '127.0.0.1',
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
  const advertise = flags.advertise === undefined ? undefined : parseAdvertise(flags.advertise);
  if (shared && !flags.apiOnly && advertise === undefined && isUnspecifiedAddress(listenHost)) {
    throw advertiseNeeded(listenHost);
  }
  return {
    ...(hostId !== undefined ? { hostId } : {}),
    ...(shared
      ? {
          cluster: {
            apiOnly: flags.apiOnly ?? false,
            ...(advertise ? { advertise } : {}),
            ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
            ...(hostTimeoutMs !== undefined ? { hostTimeoutMs } : {}),
          },
        }
      : {}),
  };
}
