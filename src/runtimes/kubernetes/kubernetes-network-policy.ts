import type { V1NetworkPolicy, V1NetworkPolicyEgressRule } from '@kubernetes/client-node';
import { InvalidInputError } from '../../errors/mags-error.ts';
import type { SandboxSpec } from '../runtime.ts';
import { cidrContains } from './cidr-contains.ts';
import { podName, sandboxLabel, sandboxLabels } from './kubernetes-pod-spec.ts';
import type { KubernetesSettings } from './kubernetes-settings.ts';

/**
 * Never reachable, whatever the spec asks: the cloud metadata services. Link-local holds most;
 * some are elsewhere: Alibaba's 100.100.100.200, and the IPv6 ones in ULA space: AWS
 * fd00:ec2::254 (IMDS docs), GCE fd20:ce::254, Oracle fd00:c1::a9fe:a9fe.
 */
const forbiddenV4 = ['169.254.0.0/16', '100.100.100.200/32'];
const forbiddenV6 = [
  'fe80::/10',
  'fd00:ec2::254/128',
  'fd20:ce::254/128',
  'fd00:c1::a9fe:a9fe/128',
];

/**
 * NodeLocal DNSCache (https://kubernetes.io/docs/tasks/administer-cluster/nodelocaldns/, default
 * on GKE and kubespray) answers on this link-local address: allowed on port 53 only, and only to
 * a sandbox that may resolve names at all.
 */
const nodeLocalDns: V1NetworkPolicyEgressRule = {
  to: [{ ipBlock: { cidr: '169.254.20.10/32' } }],
  ports: [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ],
};

/**
 * The cluster DNS (kube-dns/CoreDNS, labelled `k8s-app: kube-dns` in kube-system by kubeadm, k3s
 * and the managed clusters), which a sandbox with the whole network needs to resolve names.
 */
const clusterDns: V1NetworkPolicyEgressRule = {
  to: [
    {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
    },
  ],
  ports: [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ],
};

/**
 * The NetworkPolicy of a sandbox's pod: no ingress ever; egress only as the spec asks. `all` is
 * everything but link-local and the cluster's own ranges (other tenants' pods and services);
 * `{ allow }` maps CIDR rules to ipBlocks. A NetworkPolicy has no host names
 * (https://kubernetes.io/docs/concepts/services-networking/network-policies/): a rule naming one
 * is refused, never widened to a CIDR. Needs a CNI that enforces policies (Calico, Cilium, ...).
 */
export function sandboxNetworkPolicy(
  spec: SandboxSpec,
  settings: KubernetesSettings,
): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: podName(spec.id),
      namespace: settings.namespace,
      labels: sandboxLabels(spec, settings),
    },
    spec: {
      podSelector: { matchLabels: { [sandboxLabel]: spec.id } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: egressRules(spec, settings),
    },
  };
}

function egressRules(spec: SandboxSpec, settings: KubernetesSettings): V1NetworkPolicyEgressRule[] {
  const egress = spec.network.egress;
  if (egress === 'none') return [];
  if (egress === 'all') {
    const v6 = (cidr: string) => cidr.includes(':');
    return [
      {
        to: [
          {
            ipBlock: {
              cidr: '0.0.0.0/0',
              except: [...forbiddenV4, ...settings.clusterCidrs.filter((cidr) => !v6(cidr))],
            },
          },
          {
            ipBlock: {
              cidr: '::/0',
              except: [...forbiddenV6, ...settings.clusterCidrs.filter(v6)],
            },
          },
        ],
      },
      clusterDns,
      nodeLocalDns,
    ];
  }
  const hosts = egress.allow.flatMap((rule) => ('host' in rule ? [rule.host] : []));
  if (hosts.length > 0) {
    throw new InvalidInputError(
      `The kubernetes runtime cannot allow egress by host name (${hosts.join(', ')}): a NetworkPolicy only holds address ranges.`,
      {
        code: 'egress_rule_unsupported',
        sandboxId: spec.id,
        hint: 'Allow the addresses instead (--allow-cidr 203.0.113.0/24:443), give --net for the whole network, or run on the namespace or qemu runtime.',
      },
    );
  }
  // A range may contain a metadata address (0.0.0.0/0 passes the shared checker): excepted here.
  return egress.allow.map((rule) => ({
    to: [{ ipBlock: allowedBlock('cidr' in rule ? rule.cidr : '') }],
    ...(rule.port === undefined
      ? {}
      : {
          ports: [
            { protocol: 'TCP', port: rule.port },
            { protocol: 'UDP', port: rule.port },
          ],
        }),
  }));
}

/** An allowed range with the metadata addresses it contains cut out of it. */
function allowedBlock(cidr: string): { cidr: string; except?: string[] } {
  const except = (cidr.includes(':') ? forbiddenV6 : forbiddenV4).filter((inner) =>
    cidrContains(cidr, inner),
  );
  // An ipBlock's except must lie strictly inside its cidr; a rule equal to one is refused earlier.
  return except.length > 0 ? { cidr, except } : { cidr };
}
