/**
 * Recorded-exchange tests (no Kubernetes API server runs here; see
 * kubernetes-runtime.recorded.test.ts): an exec stream that drops while the pod runs on (an
 * API-server restart, an idle timeout) is connected again, and a durable command goes on; only
 * a pod that is gone ends the sandbox. The exec streams are real (the locally built agent).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { nativeBinaryPath } from '../../config/package-paths.ts';
import type { SandboxProcess } from '../runtime.ts';
import { collect, shell } from '../runtime-contract.ts';
import { recordedSpec } from './fixtures/record-exchanges.ts';
import {
  type RecordedApiServer,
  type RecordedExchange,
  startRecordedApiServer,
} from './fixtures/recorded-api-server.ts';
import { sandboxNetworkPolicy } from './kubernetes-network-policy.ts';
import { sandboxPod } from './kubernetes-pod-spec.ts';
import { createKubernetesRuntime } from './kubernetes-runtime.ts';
import { kubernetesSettings } from './kubernetes-settings.ts';

const agentPath = nativeBinaryPath('mags-agent');
const settings = kubernetesSettings({
  MAGS_K8S_IMAGE: 'registry.example.com/mags/sandbox:1',
  MAGS_K8S_SERVER_ID: 'server-a',
  MAGS_HOST_ID: 'host-a',
  MAGS_K8S_CLUSTER_CIDRS: '10.42.0.0/16,10.43.0.0/16',
});
const ns = '/api/v1/namespaces/mags-sandboxes';
const np = '/apis/networking.k8s.io/v1/namespaces/mags-sandboxes/networkpolicies';
const running = {
  phase: 'Running',
  startTime: '2026-11-30T09:00:00Z',
  containerStatuses: [
    {
      name: 'sandbox',
      image: settings.image ?? '',
      imageID: '',
      ready: true,
      restartCount: 0,
      state: { running: { startedAt: '2026-11-30T09:00:03Z' } },
    },
  ],
};
const execPath = (name: string) =>
  `${ns}/pods/${name}/exec?stdout=true&stderr=true&stdin=true&tty=false&command=%2Fusr%2Flocal%2Flib%2Fmags%2Fmags-agent&command=--connect&command=%2Frun%2Fmags-agent.sock&container=sandbox`;
const ok = { status: 200, body: { kind: 'Status', apiVersion: 'v1', status: 'Success' } };
const notFound = (name: string) => ({
  status: 404,
  body: {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    reason: 'NotFound',
    code: 404,
    message: `pods "${name}" not found`,
  },
});

/** The exchanges of a start up to its first relay, and the pod as the API returns it. */
function started(id: string): { pod: V1Pod; exchanges: RecordedExchange[] } {
  const spec = recordedSpec(id, 'none');
  const policy = sandboxNetworkPolicy(spec, settings);
  const pod = sandboxPod(spec, settings, settings.image ?? '');
  const name = `mags-${id}`;
  return {
    pod,
    exchanges: [
      {
        request: { method: 'POST', path: `${np}?fieldValidation=Strict`, body: policy },
        response: { status: 201, body: policy },
      },
      {
        request: { method: 'POST', path: `${ns}/pods?fieldValidation=Strict`, body: pod },
        response: { status: 201, body: { ...pod, status: { phase: 'Pending' } } },
      },
      {
        request: { method: 'GET', path: `${ns}/pods/${name}` },
        response: { status: 200, body: { ...pod, status: running } },
      },
      { request: { method: 'GET', path: execPath(name) }, exec: { protocol: 'v5.channel.k8s.io' } },
    ],
  };
}

const servers: RecordedApiServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function replay(exchanges: RecordedExchange[]) {
  const server = await startRecordedApiServer(
    {
      description: 'composed in the test',
      source: 'kubernetes-stream-loss.recorded.test.ts',
      exchanges,
    },
    { agentPath },
  );
  servers.push(server);
  const runtime = createKubernetesRuntime({
    settings,
    kubeConfig: () => server.kubeConfig(),
    pollMs: 5,
  });
  return { server, runtime };
}

function firstOutput(process: SandboxProcess): Promise<string> {
  return new Promise((resolve) =>
    process.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())),
  );
}

test('recorded exchange: a dropped exec stream of a running pod is connected again; the durable command goes on', async (t) => {
  if (!existsSync(agentPath))
    return t.skip(`the agent is not built (${agentPath}): run node scripts/build.ts`);
  const { pod, exchanges } = started('recorded-drop');
  const { server, runtime } = await replay([
    ...exchanges,
    {
      note: 'The stream dropped: is the pod still running? Yes: a new relay.',
      request: { method: 'GET', path: `${ns}/pods/mags-recorded-drop` },
      response: { status: 200, body: { ...pod, status: running } },
    },
    {
      request: { method: 'GET', path: execPath('mags-recorded-drop') },
      exec: { protocol: 'v5.channel.k8s.io' },
    },
    {
      request: { method: 'DELETE', path: `${ns}/pods/mags-recorded-drop?gracePeriodSeconds=0` },
      response: ok,
    },
    { request: { method: 'DELETE', path: `${np}/mags-recorded-drop` }, response: ok },
  ]);
  const sandbox = await runtime.start(recordedSpec('recorded-drop', 'none'));
  const durable = sandbox.exec({
    ...shell('echo before; sleep 1; echo after', { cwd: '/' }),
    key: 'job-drop',
  });
  const output = collect(durable);
  assert.equal(await firstOutput(durable), 'before\n');
  server.dropExecStreams();
  const result = await output;
  assert.equal(result.stdout.toString(), 'before\nafter\n', 'one command, resumed where it was');
  assert.equal(result.exitCode, 0);
  assert.ok(sandbox.isRunning(), 'a dropped stream is not a dead pod');
  const more = await collect(sandbox.exec(shell('echo still here', { cwd: '/' })));
  assert.equal(more.stdout.toString(), 'still here\n');
  await sandbox.stop();
  assert.deepEqual(server.mismatches, []);
  assert.deepEqual(server.remaining(), []);
});

test('recorded exchange: a dropped exec stream of a pod that is gone ends the sandbox', async (t) => {
  if (!existsSync(agentPath))
    return t.skip(`the agent is not built (${agentPath}): run node scripts/build.ts`);
  const { exchanges } = started('recorded-gone');
  const { server, runtime } = await replay([
    ...exchanges,
    {
      note: 'The stream dropped and the pod is gone (evicted, deleted).',
      request: { method: 'GET', path: `${ns}/pods/mags-recorded-gone` },
      response: notFound('mags-recorded-gone'),
    },
    {
      request: { method: 'DELETE', path: `${ns}/pods/mags-recorded-gone?gracePeriodSeconds=0` },
      response: notFound('mags-recorded-gone'),
    },
    { request: { method: 'DELETE', path: `${np}/mags-recorded-gone` }, response: ok },
  ]);
  const sandbox = await runtime.start(recordedSpec('recorded-gone', 'none'));
  const durable = sandbox.exec({ ...shell('echo before; sleep 5', { cwd: '/' }), key: 'job-gone' });
  assert.equal(await firstOutput(durable), 'before\n');
  server.dropExecStreams();
  await assert.rejects(durable.exited, { code: 'guest_closed' });
  assert.equal(sandbox.isRunning(), false);
  await sandbox.stop();
  assert.deepEqual(server.mismatches, []);
  assert.deepEqual(server.remaining(), []);
});
