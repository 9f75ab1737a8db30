import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContains } from './cidr-contains.ts';
import { kubernetesWarnings } from './kubernetes-runtime-warnings.ts';
import { kubernetesSettings } from './kubernetes-settings.ts';

const warningsFor = (environment: NodeJS.ProcessEnv) =>
  kubernetesWarnings(kubernetesSettings(environment)).join('\n');

test('check() warns of unset cluster ranges, ranges without this pod, host users without a runtime class, and pids', () => {
  assert.match(warningsFor({}), /MAGS_K8S_CLUSTER_CIDRS is not set/);
  assert.match(warningsFor({}), /podPidsLimit/, "the process count is the node's");
  const wrong = warningsFor({ MAGS_K8S_CLUSTER_CIDRS: '10.244.0.0/16', POD_IP: '192.168.3.7' });
  assert.match(wrong, /pod IP 192\.168\.3\.7 \(POD_IP\) is in none of MAGS_K8S_CLUSTER_CIDRS/);
  const right = warningsFor({
    MAGS_K8S_CLUSTER_CIDRS: '10.96.0.0/12,192.168.0.0/16',
    POD_IP: '192.168.3.7',
  });
  assert.doesNotMatch(right, /POD_IP|not set/);
  assert.match(warningsFor({ MAGS_K8S_HOST_USERS: 'true' }), /the node's root/);
  assert.doesNotMatch(
    warningsFor({ MAGS_K8S_HOST_USERS: 'true', MAGS_K8S_RUNTIME_CLASS: 'gvisor' }),
    /the node's root/,
  );
});

test('CIDR containment, both families', () => {
  assert.ok(cidrContains('0.0.0.0/0', '169.254.0.0/16'));
  assert.ok(cidrContains('100.64.0.0/10', '100.100.100.200/32'));
  assert.ok(!cidrContains('10.0.0.0/8', '100.100.100.200/32'));
  assert.ok(!cidrContains('169.254.0.0/16', '169.254.0.0/16'), 'strictly inside only');
  assert.ok(cidrContains('fd00::/8', 'fd00:ec2::254/128'));
  assert.ok(cidrContains('::/0', 'fd00:c1::a9fe:a9fe/128'));
  assert.ok(!cidrContains('fd20::/16', 'fd00:ec2::254/128'));
});
