import { hostState } from '../../cluster/host-placement.ts';
import type { HostRecord } from '../../state/state-repository.ts';

/**
 * Why `host` cannot take a request now, or undefined when it can: marked gone (with the reason
 * recorded then), silent past `hostTimeoutMs` (`hostState` of src/cluster/, the one definition
 * placement and `GET /v1/hosts` use, in words), or without an address other servers reach.
 */
export function hostUnavailableReason(
  host: HostRecord,
  nowMs: number,
  hostTimeoutMs: number,
): string | undefined {
  switch (hostState(host, nowMs, hostTimeoutMs)) {
    case 'gone':
      return `it was found gone at ${host.goneAt} (${host.goneReason ?? 'no reason recorded'})`;
    case 'silent': {
      const silentMs = nowMs - Date.parse(host.heartbeatAt);
      return `no heartbeat for ${Math.round(silentMs / 1000)} s (since ${host.heartbeatAt})`;
    }
    case 'live':
      if (!host.address)
        return 'it has no address other servers reach (mags server --advertise URL)';
      return undefined;
  }
}
