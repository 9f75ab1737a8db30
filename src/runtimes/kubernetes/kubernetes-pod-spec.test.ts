import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../../errors/mags-error.ts';
import type { SandboxSpec } from '../runtime.ts';
import { sandboxNetworkPolicy } from './kubernetes-network-policy.ts';
import { sandboxPod } from './kubernetes-pod-spec.ts';
import { kubernetesSettings, labelValue } from './kubernetes-settings.ts';

const spec: SandboxSpec = {
  id: 'unit-1',
  image: { name: 'default' },
  limits: { memoryMiB: 256, cpus: 0.5, pidsMax: 64 },
  network: { egress: 'none' },
  labels: { owner: 'Alice Smith <alice@example.com>' },
};

test('settings: defaults, and every bad value refused naming its variable', () => {
  const settings = kubernetesSettings({});
  assert.equal(settings.namespace, 'mags-sandboxes');
  assert.equal(settings.hostUsers, false);
  assert.equal(settings.image, undefined);
  assert.equal(settings.agentPath, '/usr/local/lib/mags/mags-agent');
  for (const [name, value, pattern] of [
    ['MAGS_K8S_NAMESPACE', 'Not_A_Namespace', /MAGS_K8S_NAMESPACE/],
    ['MAGS_K8S_CLUSTER_CIDRS', '10.0.0.0/8,pods', /MAGS_K8S_CLUSTER_CIDRS has "pods"/],
    ['MAGS_K8S_HOST_USERS', 'yes', /MAGS_K8S_HOST_USERS must be true or false/],
    ['MAGS_K8S_START_TIMEOUT_MS', '-1', /MAGS_K8S_START_TIMEOUT_MS/],
  ] as const) {
    assert.throws(
      () => kubernetesSettings({ [name]: value }),
      (error: unknown) => error instanceof InvalidInputError && pattern.test(error.message),
      name,
    );
  }
});

test('label values are made label-safe (at most 63 characters, alphanumeric at both ends)', () => {
  assert.equal(labelValue('Alice Smith <alice@example.com>'), 'Alice-Smith--alice-example.com');
  assert.equal(labelValue('x'.repeat(80)).length, 63);
  assert.equal(labelValue('---'), '');
});

test('the pod: fractional cpus in millicores, no ephemeral-storage without diskMiB, optional settings', () => {
  const settings = kubernetesSettings({
    MAGS_K8S_RUNTIME_CLASS: 'gvisor',
    MAGS_K8S_HOST_USERS: 'true',
    MAGS_K8S_SERVER_ID: 'server b',
  });
  const pod = sandboxPod({ ...spec, hostname: 'box' }, settings, 'image:1');
  const container = pod.spec?.containers[0];
  assert.deepEqual(container?.resources?.limits, { memory: '256Mi', cpu: '500m' });
  assert.equal(pod.spec?.runtimeClassName, 'gvisor');
  assert.equal(pod.spec?.hostUsers, undefined, 'MAGS_K8S_HOST_USERS=true leaves the node default');
  assert.equal(pod.spec?.hostname, 'box');
  assert.equal(pod.metadata?.labels?.['mags.dev/owner'], 'Alice-Smith--alice-example.com');
  assert.equal(pod.metadata?.labels?.['mags.dev/server'], 'server-b');
  assert.deepEqual(JSON.parse(pod.metadata?.annotations?.['mags.dev/labels'] ?? ''), spec.labels);
  assert.deepEqual(pod.spec?.volumes?.[0]?.emptyDir, {});
});

test('the policy: no egress at all without network; CIDR rules with their port; v6 ranges apart', () => {
  const settings = kubernetesSettings({ MAGS_K8S_CLUSTER_CIDRS: '10.42.0.0/16, fd00:10::/56' });
  const none = sandboxNetworkPolicy(spec, settings);
  assert.deepEqual(none.spec?.egress, []);
  assert.deepEqual(none.spec?.ingress, []);
  assert.deepEqual(none.spec?.policyTypes, ['Ingress', 'Egress']);
  const allowed = sandboxNetworkPolicy(
    {
      ...spec,
      network: {
        egress: { allow: [{ cidr: '203.0.113.0/24', port: 443 }, { cidr: '198.51.100.7/32' }] },
      },
    },
    settings,
  );
  assert.deepEqual(allowed.spec?.egress, [
    {
      to: [{ ipBlock: { cidr: '203.0.113.0/24' } }],
      ports: [
        { protocol: 'TCP', port: 443 },
        { protocol: 'UDP', port: 443 },
      ],
    },
    { to: [{ ipBlock: { cidr: '198.51.100.7/32' } }] },
  ]);
  const all = sandboxNetworkPolicy({ ...spec, network: { egress: 'all' } }, settings);
  const blocks = all.spec?.egress?.[0]?.to?.map((peer) => peer.ipBlock);
  assert.deepEqual(blocks, [
    { cidr: '0.0.0.0/0', except: ['169.254.0.0/16', '100.100.100.200/32', '10.42.0.0/16'] },
    {
      cidr: '::/0',
      except: [
        'fe80::/10',
        'fd00:ec2::254/128',
        'fd20:ce::254/128',
        'fd00:c1::a9fe:a9fe/128',
        'fd00:10::/56',
      ],
    },
  ]);
  assert.equal(all.spec?.egress?.[1]?.ports?.[0]?.port, 53, 'the cluster DNS');
  assert.deepEqual(
    all.spec?.egress?.[2],
    {
      to: [{ ipBlock: { cidr: '169.254.20.10/32' } }],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    },
    'NodeLocal DNSCache, port 53 only',
  );
});

test('the policy: an allowed range that holds a metadata address has it cut out', () => {
  const settings = kubernetesSettings({});
  const policy = sandboxNetworkPolicy(
    {
      ...spec,
      network: {
        egress: {
          allow: [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }, { cidr: '100.64.0.0/10' }],
        },
      },
    },
    settings,
  );
  assert.deepEqual(
    policy.spec?.egress?.map((rule) => rule.to?.[0]?.ipBlock),
    [
      { cidr: '0.0.0.0/0', except: ['169.254.0.0/16', '100.100.100.200/32'] },
      {
        cidr: '::/0',
        except: ['fe80::/10', 'fd00:ec2::254/128', 'fd20:ce::254/128', 'fd00:c1::a9fe:a9fe/128'],
      },
      { cidr: '100.64.0.0/10', except: ['100.100.100.200/32'] },
    ],
  );
});

test('the pod: labelled with its host (MAGS_HOST_ID), which list() selects by', () => {
  const pod = sandboxPod(spec, kubernetesSettings({ MAGS_HOST_ID: 'mags-host-7f9c' }), 'image:1');
  assert.equal(pod.metadata?.labels?.['mags.dev/host'], 'mags-host-7f9c');
});
