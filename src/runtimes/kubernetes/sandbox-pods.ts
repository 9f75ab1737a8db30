import type { V1Pod } from '@kubernetes/client-node';
import type { SandboxInfo, WorkspaceReference } from '../runtime.ts';
import {
  hostLabel,
  labelsAnnotation,
  managedByLabel,
  sandboxLabel,
  workspaceAnnotation,
} from './kubernetes-pod-spec.ts';

/**
 * Selects the sandbox pods (and NetworkPolicies) of mags that this host's servers started: a
 * server start recovers or stops what `list()` returns, so another host's must never be in it.
 */
export function sandboxPodSelector(hostId: string): string {
  return `${managedByLabel}=mags,${sandboxLabel},${hostLabel}=${hostId}`;
}

/**
 * A pod that will never run a sandbox again and is not yet being deleted: Pending (its start's
 * server died; sweep runs at a server start, before this host starts anything), Failed or
 * Succeeded. `sweep()` deletes these; `list()` returns only live ones (what can be attached).
 */
export function isLeftoverPod(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && !isLivePod(pod);
}

/** A pod whose container runs and that is not being deleted: a sandbox that can be attached. */
export function isLivePod(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    !pod.metadata?.deletionTimestamp &&
    pod.status.containerStatuses?.[0]?.state?.running !== undefined
  );
}

/** The spec's labels, kept whole in the pod's annotation (label values cannot hold them all). */
export function podSandboxLabels(pod: V1Pod): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(pod.metadata?.annotations?.[labelsAnnotation] ?? '{}');
    if (!parsed || typeof parsed !== 'object') return {};
    return Object.fromEntries(
      Object.entries(parsed).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      ),
    );
  } catch {
    return {};
  }
}

/** The workspace the pod's sandbox runs on, as its spec named it. */
export function podWorkspace(pod: V1Pod): WorkspaceReference | undefined {
  const text = pod.metadata?.annotations?.[workspaceAnnotation];
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<WorkspaceReference>;
    if (typeof parsed.name !== 'string') return undefined;
    return {
      name: parsed.name,
      access: parsed.access === 'read-only' ? 'read-only' : 'writable',
      ...(typeof parsed.version === 'number' ? { version: parsed.version } : {}),
    };
  } catch {
    return undefined;
  }
}

export function podSandboxInfo(pod: V1Pod): SandboxInfo | undefined {
  const id = pod.metadata?.labels?.[sandboxLabel];
  if (!id) return undefined;
  const started = pod.status?.startTime ?? pod.metadata?.creationTimestamp;
  const workspace = podWorkspace(pod);
  return {
    id,
    labels: podSandboxLabels(pod),
    ...(workspace ? { workspace } : {}),
    startedAt: started ? new Date(started).toISOString() : new Date(0).toISOString(),
  };
}
