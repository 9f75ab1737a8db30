import { hostname } from 'node:os';
import { InvalidInputError } from '../../errors/mags-error.ts';

/** The kubernetes runtime's settings (`mags server --k8s-*`, or `MAGS_K8S_*` in the environment). */
export interface KubernetesSettings {
  /**
   * The sandbox image a node pulls (built by `mags image build --oci` and pushed by the user):
   * the base image plus the static agent at `agentPath`. Undefined: the runtime cannot start.
   */
  image: string | undefined;
  /** The one namespace every sandbox pod lives in (owners are told apart by labels). */
  namespace: string;
  /** A kubeconfig context other than the current one. */
  context: string | undefined;
  /** `runtimeClassName` of every pod (`gvisor`, `kata`), or none: the cluster's default. */
  runtimeClassName: string | undefined;
  /**
   * `hostUsers: false` (a user namespace per pod, Kubernetes 1.33+ with a runtime that supports
   * it). True: the pod shares the node's user ids, for clusters without user-namespace support.
   */
  hostUsers: boolean;
  /** The cluster's pod and service ranges, kept out of `egress: 'all'` (other tenants' pods). */
  clusterCidrs: string[];
  /** This host's own pod IP (`POD_IP`, host.yaml), checked against `clusterCidrs`. */
  podIp: string | undefined;
  /** `mags.dev/server`: which control plane started a pod. */
  serverId: string;
  /**
   * `mags.dev/host`: which host's pods these are (`MAGS_HOST_ID`, else the hostname, as the
   * server's own host id). `list()` returns only these: another host's live sandboxes are never
   * this host's to take over or stop.
   */
  hostId: string;

  /** Where the agent is inside the image (`mags image build --oci` puts it there). */
  agentPath: string;
  /** How long a pod may take to be scheduled, pull its image and run. */
  startTimeoutMs: number;
  /**
   * Where the workspace is in the pod (an emptyDir): `/workspace`, as in every runtime. Not a
   * user setting; the recorded-exchange tests, whose "pod" is this machine, move it.
   */
  workspacePath: string;
}

export const defaultKubernetesNamespace = 'mags-sandboxes';
export const defaultAgentPath = '/usr/local/lib/mags/mags-agent';

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const cidrPattern = /^[0-9a-fA-F:.]+\/\d{1,3}$/;

/** The settings from the environment, checked: a bad value is a 400 naming the variable. */
export function kubernetesSettings(environment: NodeJS.ProcessEnv): KubernetesSettings {
  const namespace = environment.MAGS_K8S_NAMESPACE || defaultKubernetesNamespace;
  if (!dnsLabel.test(namespace)) {
    throw new InvalidInputError(
      `MAGS_K8S_NAMESPACE ${JSON.stringify(namespace)} is not a namespace name.`,
      {
        hint: 'A namespace is a DNS label: lower-case letters, digits and -, at most 63 characters.',
      },
    );
  }
  const clusterCidrs = (environment.MAGS_K8S_CLUSTER_CIDRS ?? '')
    .split(',')
    .map((cidr) => cidr.trim())
    .filter((cidr) => cidr !== '');
  for (const cidr of clusterCidrs) {
    if (!cidrPattern.test(cidr)) {
      throw new InvalidInputError(
        `MAGS_K8S_CLUSTER_CIDRS has ${JSON.stringify(cidr)}, not a CIDR.`,
        {
          hint: 'List the pod and service ranges, e.g. MAGS_K8S_CLUSTER_CIDRS=10.42.0.0/16,10.43.0.0/16',
        },
      );
    }
  }
  const hostUsers = environment.MAGS_K8S_HOST_USERS ?? 'false';
  if (hostUsers !== 'true' && hostUsers !== 'false') {
    throw new InvalidInputError(
      `MAGS_K8S_HOST_USERS must be true or false, not ${JSON.stringify(hostUsers)}.`,
    );
  }
  const startTimeoutMs = Number(environment.MAGS_K8S_START_TIMEOUT_MS || 180_000);
  if (!Number.isInteger(startTimeoutMs) || startTimeoutMs <= 0) {
    throw new InvalidInputError(
      'MAGS_K8S_START_TIMEOUT_MS must be a positive whole number of milliseconds.',
    );
  }
  return {
    image: environment.MAGS_K8S_IMAGE || undefined,
    namespace,
    context: environment.MAGS_K8S_CONTEXT || undefined,
    runtimeClassName: environment.MAGS_K8S_RUNTIME_CLASS || undefined,
    hostUsers: hostUsers === 'true',
    clusterCidrs,
    serverId: labelValue(environment.MAGS_K8S_SERVER_ID || hostname()),
    hostId: labelValue(environment.MAGS_HOST_ID || hostname()),
    podIp: environment.POD_IP || undefined,
    agentPath: environment.MAGS_K8S_AGENT_PATH || defaultAgentPath,
    startTimeoutMs,
    workspacePath: '/workspace',
  };
}

/**
 * A string as a label value (at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both
 * ends; https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set),
 * or '' when nothing of it is left.
 */
export function labelValue(text: string): string {
  const cleaned = text
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned;
}
