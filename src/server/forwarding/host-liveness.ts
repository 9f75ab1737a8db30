import type { HostRecord } from '../../state/state-repository.ts';

/**
 * Why `host` cannot take a request now, or undefined when it can: marked gone (with the reason
 * recorded then), silent past `hostTimeoutMs` (what `isLiveHost` of src/cluster/ says, in
 * words), or without an address other servers reach.
 */
export function hostUnavailableReason(
  host: HostRecord,
  nowMs: number,
  hostTimeoutMs: number,
): string | undefined {
  if (host.goneAt)
    return `it was found gone at ${host.goneAt} (${host.goneReason ?? 'no reason recorded'})`;
  const silentMs = nowMs - Date.parse(host.heartbeatAt);
  if (!(silentMs <= hostTimeoutMs)) {
    return `no heartbeat for ${Math.round(silentMs / 1000)} s (since ${host.heartbeatAt})`;
  }
  if (!host.address) return 'it has no address other servers reach (mags server --advertise URL)';
  return undefined;
}
