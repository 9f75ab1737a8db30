import { MagsError } from '../../errors/mags-error.ts';
import { cidrContains } from './cidr-contains.ts';
import type { KubernetesSettings } from './kubernetes-settings.ts';

/**
 * What the kubernetes runtime cannot enforce with these settings, for `check()` and, once, a
 * server's log at its start: an operator must hear of a sandbox network that reaches the
 * cluster, or a sandbox root that is the node's.
 */
export function kubernetesWarnings(settings: KubernetesSettings): string[] {
  const warnings: string[] = [];
  if (settings.clusterCidrs.length === 0) {
    warnings.push(
      "MAGS_K8S_CLUSTER_CIDRS is not set: a sandbox given the network (--net) reaches every pod and service of the cluster (mags servers, databases, other tenants). Set it to the cluster's pod, service, node and VPC ranges.",
    );
  }
  const { podIp } = settings;
  if (podIp && settings.clusterCidrs.length > 0) {
    const single = podIp.includes(':') ? `${podIp}/128` : `${podIp}/32`;
    const family = (cidr: string) => cidr.includes(':') === podIp.includes(':');
    if (!settings.clusterCidrs.some((cidr) => family(cidr) && cidrContains(cidr, single))) {
      warnings.push(
        `This host's own pod IP ${podIp} (POD_IP) is in none of MAGS_K8S_CLUSTER_CIDRS (${settings.clusterCidrs.join(', ')}): the ranges are not this cluster's, and a sandbox with --net reaches its pods. Set them to the cluster's pod, service, node and VPC ranges.`,
      );
    }
  }
  if (settings.hostUsers && !settings.runtimeClassName) {
    warnings.push(
      "MAGS_K8S_HOST_USERS=true without a runtime class: a sandbox's root is the node's root (uid 0, with CHOWN, DAC_OVERRIDE, FOWNER, SETUID, SETGID), one kernel bug away from the node. Enable UserNamespacesSupport (on by default from Kubernetes 1.33), or set --k8s-runtime-class to gVisor or Kata.",
    );
  }
  warnings.push(
    "Process counts are limited by the node (kubelet podPidsLimit), not per sandbox; past its disk limit (ephemeral-storage) a pod is evicted, and a writable workspace's changes of that run are lost, where other runtimes give ENOSPC.",
  );
  return warnings;
}

let warned = false;

/** The settings' warnings on stderr, once per process (a server start lists every runtime). */
export function warnOnce(settings: KubernetesSettings): void {
  if (warned) return;
  warned = true;
  for (const warning of kubernetesWarnings(settings).slice(0, -1)) {
    console.error(`mags: warning: kubernetes runtime: ${warning}`);
  }
}

/** The pod came back without `hostUsers: false`: the API server dropped the user namespace. */
export function hostUsersDropped(sandboxId: string, settings: KubernetesSettings): MagsError {
  return new MagsError(
    `The API server dropped hostUsers: false from sandbox ${sandboxId}'s pod: it would run as the node's root, so it was deleted.`,
    {
      code: 'dependency_missing',
      statusCode: 503,
      sandboxId,
      hint: `Enable the UserNamespacesSupport feature gate (on by default from Kubernetes 1.33), or run the pods under gVisor or Kata (--k8s-runtime-class${settings.runtimeClassName ? `, now ${settings.runtimeClassName}` : ''}) and accept host users with --k8s-allow-host-users (MAGS_K8S_HOST_USERS=true): without either, a sandbox's root is the node's.`,
    },
  );
}
