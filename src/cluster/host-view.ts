import type { HostRecord } from '../state/state-repository.ts';
import { hostState } from './host-placement.ts';

/** A host as `GET /v1/hosts` shows it. */
export interface HostView {
  id: string;
  address: string | null;
  state: 'live' | 'silent' | 'gone';
  runtimes: string[];
  maxJobs: number;
  runningJobs: number;
  warmWorkspaces: number;
  startedAt: string;
  heartbeatAt: string;
  heartbeatAgeMs: number;
  goneAt: string | null;
  goneReason: string | null;
}

export function toHostView(host: HostRecord, now: number, hostTimeoutMs: number): HostView {
  return {
    id: host.id,
    address: host.address,
    state: hostState(host, now, hostTimeoutMs),
    runtimes: host.runtimes,
    maxJobs: host.maxJobs,
    runningJobs: host.runningJobs,
    warmWorkspaces: host.warmWorkspaces.length,
    startedAt: host.startedAt,
    heartbeatAt: host.heartbeatAt,
    heartbeatAgeMs: Math.max(0, now - Date.parse(host.heartbeatAt)),
    goneAt: host.goneAt,
    goneReason: host.goneReason,
  };
}
