/**
 * Recorded-exchange tests (no Kubernetes API server runs here; see
 * kubernetes-runtime.recorded.test.ts): what a host lists and sweeps, and a pod whose user
 * namespace the API server dropped. The exchanges are composed here from the objects the
 * runtime builds, with the API's documented answers.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { MagsError } from '../../errors/mags-error.ts';
import type { HostStores } from '../runtime-factory.ts';
import { recordedSpec } from './fixtures/record-exchanges.ts';
import {
  type RecordedApiServer,
  type RecordedExchange,
  startRecordedApiServer,
} from './fixtures/recorded-api-server.ts';
import { sandboxNetworkPolicy } from './kubernetes-network-policy.ts';
import { sandboxPod } from './kubernetes-pod-spec.ts';
import { createKubernetesRuntime, type KubernetesRuntimeOptions } from './kubernetes-runtime.ts';
import { kubernetesSettings } from './kubernetes-settings.ts';

const settings = kubernetesSettings({
  MAGS_K8S_IMAGE: 'registry.example.com/mags/sandbox:1',
  MAGS_K8S_SERVER_ID: 'server-a',
  MAGS_HOST_ID: 'host-a',
  MAGS_K8S_CLUSTER_CIDRS: '10.42.0.0/16,10.43.0.0/16',
});
const otherHost = { ...settings, hostId: 'host-b', serverId: 'server-b' };
const ns = '/api/v1/namespaces/mags-sandboxes';
const np = '/apis/networking.k8s.io/v1/namespaces/mags-sandboxes/networkpolicies';
const selector = (host: string) =>
  `labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmags%2Cmags.dev%2Fsandbox%2Cmags.dev%2Fhost%3D${host}`;
const image = settings.image ?? '';
const running = {
  phase: 'Running',
  startTime: '2026-11-30T09:00:00Z',
  containerStatuses: [
    {
      name: 'sandbox',
      image,
      imageID: '',
      ready: true,
      restartCount: 0,
      state: { running: { startedAt: '2026-11-30T09:00:03Z' } },
    },
  ],
};
const withStatus = (pod: V1Pod, status: object) => ({ ...pod, status });
const podList = (items: object[]) => ({
  status: 200,
  body: { kind: 'PodList', apiVersion: 'v1', metadata: {}, items },
});
const deleted = { status: 200, body: { kind: 'Status', apiVersion: 'v1', status: 'Success' } };
const notFound = (kind: string, name: string) => ({
  status: 404,
  body: {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message: `${kind} "${name}" not found`,
    reason: 'NotFound',
    code: 404,
  },
});
const deletes = (name: string, pod = deleted): RecordedExchange[] => [
  { request: { method: 'DELETE', path: `${ns}/pods/${name}?gracePeriodSeconds=0` }, response: pod },
  { request: { method: 'DELETE', path: `${np}/${name}` }, response: deleted },
];

const servers: RecordedApiServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function replay(
  exchanges: RecordedExchange[],
  options: Partial<KubernetesRuntimeOptions> = {},
) {
  const server = await startRecordedApiServer(
    {
      description: 'composed in the test',
      source: 'kubernetes-runtime-host.recorded.test.ts',
      exchanges,
    },
    { agentPath: '/nonexistent' },
  );
  servers.push(server);
  const runtime = createKubernetesRuntime({
    settings,
    kubeConfig: () => server.kubeConfig(),
    pollMs: 5,
    ...options,
  });
  return { server, runtime };
}

function assertReplayedWhole(server: RecordedApiServer): void {
  assert.deepEqual(server.mismatches, []);
  assert.deepEqual(
    server.remaining().map((exchange) => `${exchange.request.method} ${exchange.request.path}`),
    [],
  );
}

test("recorded exchange: list() asks for this host's pods only, and never returns another host's", async () => {
  const ours = withStatus(sandboxPod(recordedSpec('ours', 'none'), settings, image), running);
  const theirs = withStatus(sandboxPod(recordedSpec('theirs', 'none'), otherHost, image), running);
  const { server, runtime } = await replay([
    {
      note: "Selected by mags.dev/host; an answer holding another host's pod is filtered too.",
      request: { method: 'GET', path: `${ns}/pods?${selector('host-a')}` },
      response: podList([ours, theirs]),
    },
  ]);
  const listed = await runtime.list?.();
  assert.deepEqual(
    listed?.map((info) => info.id),
    ['ours'],
  );
  assertReplayedWhole(server);
});

test("recorded exchange: sweep() deletes this host's pods that cannot run and policies without a pod", async () => {
  const live = sandboxPod(recordedSpec('live', 'none'), settings, image);
  const failed = sandboxPod(recordedSpec('failed', 'none'), settings, image);
  const pending = sandboxPod(recordedSpec('pending', 'none'), settings, image);
  const policy = (id: string) => sandboxNetworkPolicy(recordedSpec(id, 'none'), settings);
  const { server, runtime } = await replay([
    {
      request: { method: 'GET', path: `${ns}/pods?${selector('host-a')}` },
      response: podList([
        withStatus(live, running),
        withStatus(failed, { phase: 'Failed' }),
        withStatus(pending, { phase: 'Pending' }),
      ]),
    },
    ...deletes('mags-failed'),
    ...deletes('mags-pending'),
    {
      note: 'The policies of this host: one of a start that died before its pod was created.',
      request: { method: 'GET', path: `${np}?${selector('host-a')}` },
      response: {
        status: 200,
        body: {
          kind: 'NetworkPolicyList',
          apiVersion: 'networking.k8s.io/v1',
          metadata: {},
          items: [policy('live'), policy('orphan')],
        },
      },
    },
    ...deletes('mags-orphan', notFound('pods', 'mags-orphan')),
  ]);
  assert.equal(await runtime.sweep?.(), 3);
  assertReplayedWhole(server);
});

test('recorded exchange: a pod created without hostUsers: false (no UserNamespacesSupport) is deleted and the start refused', async () => {
  const spec = recordedSpec('recorded-hostusers', 'none');
  const policy = sandboxNetworkPolicy(spec, settings);
  const pod = sandboxPod(spec, settings, image);
  const { hostUsers: _dropped, ...droppedSpec } = pod.spec ?? { containers: [] };
  const { server, runtime } = await replay([
    {
      request: { method: 'POST', path: `${np}?fieldValidation=Strict`, body: policy },
      response: { status: 201, body: policy },
    },
    {
      note: 'An API server with the gate off drops the field (pkg/api/pod/util.go dropDisabledFields).',
      request: { method: 'POST', path: `${ns}/pods?fieldValidation=Strict`, body: pod },
      response: { status: 201, body: { ...pod, spec: droppedSpec, status: { phase: 'Pending' } } },
    },
    ...deletes('mags-recorded-hostusers'),
  ]);
  const error = await runtime.start(spec).then(
    () => assert.fail('the start must be refused'),
    (error: unknown) => error,
  );
  assert.ok(error instanceof MagsError, String(error));
  assert.equal(error.code, 'dependency_missing');
  assert.match(error.message, /dropped hostUsers: false/);
  assert.match(error.hint ?? '', /UserNamespacesSupport/);
  assert.match(error.hint ?? '', /--k8s-allow-host-users/);
  assertReplayedWhole(server);
});

test('recorded exchange: a workspace run on a host that is not root is refused before any request', async () => {
  // Never used: the refusal comes before the stores are touched.
  const stores = {} as HostStores;
  const { server, runtime } = await replay([], { stores, hostIsRoot: () => false });
  const error = await runtime
    .start({
      ...recordedSpec('recorded-ws', 'none'),
      workspace: { name: 'app', access: 'writable' },
    })
    .then(
      () => assert.fail('the start must be refused'),
      (error: unknown) => error,
    );
  assert.ok(error instanceof MagsError, String(error));
  assert.equal(error.code, 'workspace_unsupported');
  assert.match(error.message, /not root/);
  assert.match(error.hint ?? '', /loop devices/);
  assertReplayedWhole(server);
});
