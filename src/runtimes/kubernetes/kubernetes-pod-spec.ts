import type { V1Pod } from '@kubernetes/client-node';
import type { SandboxSpec } from '../runtime.ts';
import { type KubernetesSettings, labelValue } from './kubernetes-settings.ts';

/** The container every sandbox pod has: the agent is exec'd into it. */
export const sandboxContainerName = 'sandbox';
/** Where a workspace is in every runtime (and in a layer on the host). */
export const workspaceMountPath = '/workspace';
/** The labels the runtime sets and selects by (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/). */
export const managedByLabel = 'app.kubernetes.io/managed-by';
export const sandboxLabel = 'mags.dev/sandbox';
export const ownerLabel = 'mags.dev/owner';
export const serverLabel = 'mags.dev/server';
/** The host (`MAGS_HOST_ID`) whose server started the pod: the one that lists it. */
export const hostLabel = 'mags.dev/host';
/** The spec's own labels, whole (label values cannot hold every string): an annotation. */
export const labelsAnnotation = 'mags.dev/labels';
/** The spec's workspace reference, for an attach to hold it again. */
export const workspaceAnnotation = 'mags.dev/workspace';

/**
 * Capabilities the sandbox's root keeps: what a shell and a package manager need over the
 * pod's own files and users (chown, bypassing file modes, dropping to another uid as apt does,
 * signalling its own processes, a low port). Everything else (NET_RAW, MKNOD, SYS_CHROOT,
 * SETFCAP, AUDIT_WRITE, ...) is dropped; with `hostUsers: false` these act only on ids of the
 * pod's own user namespace (https://kubernetes.io/docs/concepts/workloads/pods/user-namespaces/).
 */
export const keptCapabilities = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'NET_BIND_SERVICE',
];

/**
 * Where the pod's agent listens (mode 0600: the pod's root only). The agent is PID 1 of the pod,
 * as of every sandbox (`mags-agent --listen`): it reaps orphans, and SHUTDOWN ends everything.
 * Each connection is an exec of `mags-agent --connect` (connect-pod-agent.ts).
 */
export const agentSocketPath = '/run/mags-agent.sock';

export function podName(sandboxId: string): string {
  return `mags-${sandboxId}`;
}

/** The labels a sandbox's pod and policy carry (selectable, so label-safe values only). */
export function sandboxLabels(
  spec: SandboxSpec,
  settings: KubernetesSettings,
): Record<string, string> {
  const owner = spec.labels?.owner ? labelValue(spec.labels.owner) : '';
  return {
    [managedByLabel]: 'mags',
    [sandboxLabel]: spec.id,
    ...(owner ? { [ownerLabel]: owner } : {}),
    ...(settings.serverId ? { [serverLabel]: settings.serverId } : {}),
    ...(settings.hostId ? { [hostLabel]: settings.hostId } : {}),
  };
}

/**
 * A sandbox's pod: Guaranteed resources from its limits, the security baseline (docs/design.md,
 * "The kubernetes runtime"), no service account token, no service environment variables.
 */
export function sandboxPod(spec: SandboxSpec, settings: KubernetesSettings, image: string): V1Pod {
  const resources: Record<string, string> = {
    memory: `${spec.limits.memoryMiB}Mi`,
    // Whole cores as a number, fractions in millicores (the API's quantity format).
    cpu: Number.isInteger(spec.limits.cpus)
      ? String(spec.limits.cpus)
      : `${Math.max(1, Math.round(spec.limits.cpus * 1000))}m`,
    ...(spec.limits.diskMiB ? { 'ephemeral-storage': `${spec.limits.diskMiB}Mi` } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(spec.id),
      namespace: settings.namespace,
      labels: sandboxLabels(spec, settings),
      annotations: {
        [labelsAnnotation]: JSON.stringify(spec.labels ?? {}),
        ...(spec.workspace ? { [workspaceAnnotation]: JSON.stringify(spec.workspace) } : {}),
      },
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // Root inside maps to an unprivileged id range of the node (GUIDE §2b), where supported.
      ...(settings.hostUsers ? {} : { hostUsers: false }),
      ...(settings.runtimeClassName ? { runtimeClassName: settings.runtimeClassName } : {}),
      ...(spec.hostname ? { hostname: spec.hostname } : {}),
      terminationGracePeriodSeconds: 2,
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: sandboxContainerName,
          image,
          imagePullPolicy: 'IfNotPresent',
          command: [settings.agentPath, '--listen', agentSocketPath],
          workingDir: settings.workspacePath,
          resources: { requests: resources, limits: resources },
          securityContext: {
            // The sandbox's root is root in the pod (as in every runtime); outside it is the
            // pod's user namespace, and never gains privileges (no_new_privs).
            runAsUser: 0,
            runAsNonRoot: false,
            allowPrivilegeEscalation: false,
            privileged: false,
            readOnlyRootFilesystem: false,
            seccompProfile: { type: 'RuntimeDefault' },
            capabilities: { drop: ['ALL'], add: keptCapabilities },
          },
          volumeMounts: [{ name: 'workspace', mountPath: settings.workspacePath }],
        },
      ],
      volumes: [
        {
          name: 'workspace',
          emptyDir: spec.limits.diskMiB ? { sizeLimit: `${spec.limits.diskMiB}Mi` } : {},
        },
      ],
    },
  };
}
