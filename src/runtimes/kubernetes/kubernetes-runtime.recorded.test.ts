/**
 * Recorded-exchange tests: no Kubernetes API server can run on this machine, so a local server
 * replays recorded API exchanges (fixtures/*.recording.json, README there) and checks that the
 * runtime sends exactly the recorded requests, in order. The exec stream is real: the replayed
 * exec upgrade runs the locally built agent behind the v5 channel protocol: the relay (`--connect`) and, standing for the pod's PID 1, a listening agent (`--listen`).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { createTestHome } from '../../../test/helpers/test-home.ts';
import { nativeBinaryPath } from '../../config/package-paths.ts';
import { ConflictError, MagsError } from '../../errors/mags-error.ts';
import { ImageStore } from '../../images/image-store.ts';
import { createFilesystemObjectStore } from '../../storage/filesystem/filesystem-object-store.ts';
import { acquireLock } from '../../workspaces/workspace-lock.ts';
import { WorkspaceStore } from '../../workspaces/workspace-store.ts';
import { WorkspaceSync } from '../../workspaces/workspace-sync.ts';
import { createShiftedIdMapping } from '../namespace/id-mapping.ts';
import { collect, shell } from '../runtime-contract.ts';
import { record, recordedSpec } from './fixtures/record-exchanges.ts';
import {
  loadRecording,
  type RecordedApiServer,
  type Recording,
  recordedToken,
  startRecordedApiServer,
} from './fixtures/recorded-api-server.ts';
import { createKubernetesRuntime } from './kubernetes-runtime.ts';
import { type KubernetesSettings, kubernetesSettings } from './kubernetes-settings.ts';

const agentPath = nativeBinaryPath('mags-agent');
const settings = kubernetesSettings({
  MAGS_K8S_IMAGE: 'registry.example.com/mags/sandbox:1',
  MAGS_K8S_SERVER_ID: 'server-a',
  MAGS_HOST_ID: 'host-a',
  MAGS_K8S_CLUSTER_CIDRS: '10.42.0.0/16,10.43.0.0/16',
});
const specFor = recordedSpec;

/** The settings a recording was made with (a re-recording against a cluster brings its own). */
function settingsOf(recording: Recording): KubernetesSettings {
  return { ...settings, ...(recording.settings ?? {}) };
}

const servers: RecordedApiServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function replay(recording: Recording, overrides: Partial<typeof settings> = {}) {
  const server = await startRecordedApiServer(recording, { agentPath });
  servers.push(server);
  const runtime = createKubernetesRuntime({
    settings: { ...settingsOf(recording), ...overrides },
    kubeConfig: () => server.kubeConfig(),
    pollMs: 5,
  });
  return { server, runtime };
}

/** Rejects with a MagsError of `code`, returning it. */
async function failure(promise: Promise<unknown>, code: string): Promise<MagsError> {
  const error = await promise.then(
    () => assert.fail('expected the start to fail'),
    (error: unknown) => error,
  );
  assert.ok(error instanceof MagsError, String(error));
  assert.equal(error.code, code, error.message);
  return error;
}

function assertReplayedWhole(server: RecordedApiServer): void {
  assert.deepEqual(server.mismatches, []);
  assert.deepEqual(
    server.remaining().map((exchange) => `${exchange.request.method} ${exchange.request.path}`),
    [],
    'every recorded request was sent (the pod and its policy were deleted)',
  );
}

let startRecording: Recording;
before(async () => {
  startRecording = await loadRecording('start-exec-stop.recording.json');
});

test('recorded exchange: the pod the runtime creates has the security baseline, limits and labels', () => {
  // What the replay holds the runtime to (every request body must equal the recording's).
  const pod = startRecording.exchanges[1]?.request.body as V1Pod;
  const spec = pod.spec;
  const container = spec?.containers[0];
  assert.equal(spec?.hostUsers, false, 'a user namespace per pod');
  assert.equal(spec?.automountServiceAccountToken, false);
  assert.equal(spec?.enableServiceLinks, false);
  assert.equal(spec?.restartPolicy, 'Never');
  assert.deepEqual(
    container?.command,
    ['/usr/local/lib/mags/mags-agent', '--listen', '/run/mags-agent.sock'],
    'the agent is PID 1',
  );
  assert.equal(spec?.securityContext?.seccompProfile?.type, 'RuntimeDefault');
  assert.equal(container?.securityContext?.allowPrivilegeEscalation, false);
  assert.equal(container?.securityContext?.privileged, false);
  assert.deepEqual(container?.securityContext?.capabilities?.drop, ['ALL']);
  assert.ok(
    !container?.securityContext?.capabilities?.add?.some((name) =>
      /SYS_|NET_RAW|NET_ADMIN|MKNOD/.test(name),
    ),
  );
  assert.deepEqual(container?.resources?.limits, {
    memory: '512Mi',
    cpu: '1',
    'ephemeral-storage': '1024Mi',
  });
  assert.deepEqual(container?.resources?.requests, container?.resources?.limits, 'Guaranteed QoS');
  assert.equal(pod.metadata?.namespace, 'mags-sandboxes');
  assert.equal(pod.metadata?.labels?.['mags.dev/owner'], 'alice');
  assert.equal(pod.metadata?.labels?.['mags.dev/sandbox'], 'recorded-1');
  assert.equal(pod.metadata?.labels?.['mags.dev/server'], 'server-a');
  const policy = startRecording.exchanges[0]?.request.body as {
    spec: {
      ingress: unknown[];
      egress: { to: { ipBlock?: { cidr: string; except: string[] } }[] }[];
    };
  };
  assert.deepEqual(policy.spec.ingress, [], 'no ingress');
  const blocks = policy.spec.egress.flatMap((rule) =>
    rule.to.flatMap((to) => (to.ipBlock ? [to.ipBlock] : [])),
  );
  assert.deepEqual(blocks[0], {
    cidr: '0.0.0.0/0',
    except: ['169.254.0.0/16', '100.100.100.200/32', '10.42.0.0/16', '10.43.0.0/16'],
  });
  // The IPv6 metadata services are not link-local (AWS fd00:ec2::254, GCE fd20:ce::254).
  assert.deepEqual(blocks[1], {
    cidr: '::/0',
    except: ['fe80::/10', 'fd00:ec2::254/128', 'fd20:ce::254/128', 'fd00:c1::a9fe:a9fe/128'],
  });
  // NodeLocal DNSCache, inside the excepted link-local range: port 53 alone.
  assert.deepEqual(blocks[2], { cidr: '169.254.20.10/32' });
  assert.equal(pod.metadata?.labels?.['mags.dev/host'], 'host-a');
});

test('recorded exchange: start, a command over the exec stream, files, stop', async (t) => {
  if (!existsSync(agentPath))
    return t.skip(`the agent is not built (${agentPath}): run node scripts/build.ts`);
  const { server, runtime } = await replay(startRecording);
  const sandbox = await runtime.start(specFor('recorded-1', 'all'));
  assert.ok(sandbox.isRunning());
  assert.deepEqual(sandbox.labels, { owner: 'alice', kind: 'run' });
  const result = await collect(sandbox.exec(shell('echo out; echo err >&2; exit 3', { cwd: '/' })));
  assert.equal(result.stdout.toString(), 'out\n');
  assert.equal(result.stderr.toString(), 'err\n');
  assert.equal(result.exitCode, 3);
  const path = `/tmp/mags-recorded-${process.pid}`;
  await sandbox.writeFile(path, Buffer.from('through the exec stream'));
  assert.equal((await sandbox.readFile(path)).toString(), 'through the exec stream');
  await sandbox.exec(shell(`rm -f ${path}`, { cwd: '/' })).exited;
  await sandbox.stop();
  assert.equal(sandbox.isRunning(), false);
  assertReplayedWhole(server);
});

test("recorded exchange: an image that cannot be pulled fails the start with the kubelet's reason, and the pod is deleted", async () => {
  const { server, runtime } = await replay(
    await loadRecording('image-pull-failure.recording.json'),
  );
  const error = await failure(
    runtime.start(specFor('recorded-pull', 'none')),
    'sandbox_start_failed',
  );
  assert.match(error.message, /ErrImagePull/);
  assert.match(error.hint ?? '', /--k8s-image/);
  assertReplayedWhole(server);
});

test("recorded exchange: a pod stuck Pending fails the start with the scheduler's events, and is deleted", async () => {
  const { server, runtime } = await replay(await loadRecording('pending-timeout.recording.json'), {
    startTimeoutMs: 1,
  });
  const error = await failure(
    runtime.start(specFor('recorded-pending', 'none')),
    'sandbox_start_failed',
  );
  assert.match(error.message, /Insufficient memory/);
  assert.match(error.message, /FailedScheduling/);
  assertReplayedWhole(server);
});

test('recorded exchange: a pod that fails fails the start with its termination reason, and is deleted', async () => {
  const { server, runtime } = await replay(await loadRecording('pod-failed.recording.json'));
  const error = await failure(
    runtime.start(specFor('recorded-failed', 'none')),
    'sandbox_start_failed',
  );
  assert.match(error.message, /StartError/);
  assert.match(error.message, /mags-agent: no such file/);
  assertReplayedWhole(server);
});

test('recorded exchange: a 403 (no RBAC) names the missing permission; nothing is left behind', async () => {
  const { server, runtime } = await replay(await loadRecording('forbidden.recording.json'));
  const error = await failure(
    runtime.start(specFor('recorded-forbidden', 'none')),
    'kubernetes_forbidden',
  );
  assert.match(error.message, /create networkpolicies in namespace mags-sandboxes/);
  assert.match(error.message, /is forbidden/);
  assert.match(error.hint ?? '', /kubectl auth can-i create networkpolicies -n mags-sandboxes/);
  assertReplayedWhole(server);
});

test('recorded exchange: an exec refused (no pods/exec) names the permission, and the pod is deleted', async () => {
  const { server, runtime } = await replay(await loadRecording('exec-forbidden.recording.json'));
  const error = await failure(
    runtime.start(specFor('recorded-noexec', 'none')),
    'kubernetes_forbidden',
  );
  assert.match(error.message, /create pods\/exec/);
  assert.match(error.hint ?? '', /kubectl auth can-i create pods\/exec/);
  assert.match(error.hint ?? '', /"create" and "get"/, 'a WebSocket exec is a GET before 1.35');
  assertReplayedWhole(server);
});

test('recorded exchange: egress by host name is refused before any request', async () => {
  const { server, runtime } = await replay({ description: 'nothing', source: '', exchanges: [] });
  const error = await failure(
    runtime.start(
      specFor('recorded-hosts', { allow: [{ host: 'registry.npmjs.org', port: 443 }] }),
    ),
    'egress_rule_unsupported',
  );
  assert.match(error.message, /registry\.npmjs\.org/);
  assert.equal(error.statusCode, 400);
  assertReplayedWhole(server);
});

test('recorded exchange: a workspace is refused before any request by a runtime given no stores', async () => {
  const { server, runtime } = await replay({ description: 'nothing', source: '', exchanges: [] });
  await failure(
    runtime.start({
      ...specFor('recorded-ws', 'none'),
      workspace: { name: 'alice/w', access: 'writable' },
    }),
    'workspace_unsupported',
  );
  assertReplayedWhole(server);
});

test('recorded exchange: an API server that is not there is a clear, retryable error', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as { port: number };
  await new Promise((resolve) => closed.close(resolve));
  const { server } = await replay({ description: 'nothing', source: '', exchanges: [] });
  const config = server.kubeConfig();
  config.clusters[0] = {
    ...config.clusters[0],
    name: 'recorded',
    server: `http://127.0.0.1:${port}`,
    skipTLSVerify: true,
  };
  const runtime = createKubernetesRuntime({ settings, kubeConfig: () => config });
  const error = await failure(
    runtime.start(specFor('recorded-gone', 'none')),
    'kubernetes_unreachable',
  );
  assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.match(error.message, /ECONNREFUSED/);
  assert.equal(error.retryable, true);
  const check = await runtime.check();
  assert.equal(check.ok, false);
  assert.match(check.problems.join('\n'), /cannot be reached/);
});

test('recorded exchange: the recording proxy, in front of an API server, writes what the replay expects', async (t) => {
  if (!existsSync(agentPath))
    return t.skip(`the agent is not built (${agentPath}): run node scripts/build.ts`);
  // The replay server stands in for the cluster (fixtures/README.md: re-recording).
  const upstream = await startRecordedApiServer(startRecording, { agentPath });
  servers.push(upstream);
  const exchanges = await record(
    upstream.url,
    { ...settingsOf(startRecording), startTimeoutMs: 60_000 },
    async (runtime) => {
      const sandbox = await runtime.start(specFor('recorded-1', 'all'));
      assert.equal(
        (await collect(sandbox.exec(shell('echo proxied', { cwd: '/' })))).stdout.toString(),
        'proxied\n',
      );
      await sandbox.stop();
    },
    recordedToken,
  );
  assertReplayedWhole(upstream);
  const withoutNotes = startRecording.exchanges.map(({ note: _note, ...exchange }) => exchange);
  assert.deepEqual(exchanges, withoutNotes);
});

test('recorded exchange: detach, list by label, attach: a durable exec runs on in the pod and is resumed', async (t) => {
  if (!existsSync(agentPath))
    return t.skip(`the agent is not built (${agentPath}): run node scripts/build.ts`);
  const recording = await loadRecording('detach-attach.recording.json');
  const { server, runtime } = await replay(recording);
  const sandbox = await runtime.start({
    ...specFor('recorded-2', 'none'),
    labels: { owner: 'alice', kind: 'run' },
  });
  const durable = sandbox.exec({
    ...shell('echo before; sleep 0.5; echo after', { cwd: '/' }),
    key: 'job-1',
  });
  const first = await new Promise<string>((resolve) =>
    durable.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())),
  );
  assert.equal(first, 'before\n');
  await sandbox.detach?.();
  assert.equal(sandbox.isRunning(), false);

  const listed = await runtime.list?.();
  assert.deepEqual(
    listed?.map(({ id, labels }) => ({ id, labels })),
    [{ id: 'recorded-2', labels: { owner: 'alice', kind: 'run' } }],
  );
  const again = await runtime.attach?.('recorded-2');
  assert.ok(again);
  assert.deepEqual(again.labels, { owner: 'alice', kind: 'run' });
  const resumed = again.resumeExec?.('job-1', { stdoutOffset: first.length });
  assert.ok(resumed);
  const rest = await collect(resumed);
  assert.equal(rest.stdout.toString(), 'after\n');
  assert.equal(rest.exitCode, 0);
  await again.stop();
  assertReplayedWhole(server);
});

test('recorded exchange: attaching a sandbox whose pod is gone is a 404 sandbox_not_found', async () => {
  const { server, runtime } = await replay(await loadRecording('attach-missing.recording.json'));
  const error = await failure(runtime.attach?.('gone') ?? Promise.resolve(), 'sandbox_not_found');
  assert.equal(error.statusCode, 404);
  assertReplayedWhole(server);
});

test('recorded exchange: a runtime without an image lists nothing and asks the cluster nothing', async () => {
  const { server } = await replay({ description: 'nothing', source: '', exchanges: [] });
  const runtime = createKubernetesRuntime({
    settings: { ...settings, image: undefined },
    kubeConfig: () => server.kubeConfig(),
  });
  assert.deepEqual(await runtime.list?.(), []);
  assertReplayedWhole(server);
});

test('recorded exchange: a writable workspace is copied into the pod, and its /workspace back at the stop', async (t) => {
  if (!existsSync(agentPath))
    return t.skip(`the agent is not built (${agentPath}): run node scripts/build.ts`);
  if (process.getuid?.() !== 0) return t.skip('workspace disks are mounted as root');
  const recording = await loadRecording('workspace-copy.recording.json');
  const podPath = recording.settings?.workspacePath ?? '';
  const testHome = await createTestHome();
  t.after(async () => {
    await rm(podPath, { recursive: true, force: true });
    await testHome.cleanup();
  });
  await rm(podPath, { recursive: true, force: true });
  await mkdir(podPath);
  const idMapping = createShiftedIdMapping();
  const workspaces = new WorkspaceStore({ home: testHome.home, idMapping });
  const stores = {
    images: new ImageStore({ home: testHome.home, idMapping }),
    workspaces,
    sync: new WorkspaceSync({
      store: createFilesystemObjectStore({ root: join(testHome.home, 'store') }),
      workspaces,
      home: testHome.home,
    }),
  };
  // What earlier runs left: a file of the sandbox's uid 1000, and one this run deletes.
  const opened = await workspaces.ensure('alice--app', 'default', 1024);
  const layer = join(opened.upperDir, 'workspace');
  await mkdir(layer);
  await writeFile(join(layer, 'kept.txt'), 'from an earlier run\n');
  await writeFile(join(layer, 'deleted.txt'), 'to be deleted\n');
  for (const name of ['', 'kept.txt', 'deleted.txt']) {
    await chown(
      join(layer, name),
      idMapping.toHost(name === 'kept.txt' ? 1000 : 0),
      idMapping.toHost(0),
    );
  }

  const server = await startRecordedApiServer(recording, { agentPath });
  servers.push(server);
  const runtime = createKubernetesRuntime({
    settings: settingsOf(recording),
    kubeConfig: () => server.kubeConfig(),
    pollMs: 5,
    stores,
    idMapping,
  });
  const sandbox = await runtime.start({
    ...specFor('recorded-ws', 'none'),
    workspace: { name: 'alice--app', access: 'writable' },
  });
  assert.deepEqual(sandbox.workspace, { name: 'alice--app', access: 'writable' });
  // In the pod, with the sandbox's ids (the pod's user namespace knows no others).
  assert.equal((await readFile(join(podPath, 'kept.txt'))).toString(), 'from an earlier run\n');
  assert.equal((await stat(join(podPath, 'kept.txt'))).uid, 1000);
  const run = await collect(
    sandbox.exec(
      shell(`cd ${podPath} && echo new > made.txt && rm deleted.txt && ls`, { cwd: '/' }),
    ),
  );
  assert.equal(run.stdout.toString(), 'kept.txt\nmade.txt\n');
  assert.equal(
    (await sandbox.usage()).processes,
    undefined,
    'never parked: copied back at the stop',
  );
  await assert.rejects(
    runtime.start({
      ...specFor('recorded-ws2', 'none'),
      workspace: { name: 'alice--app', access: 'writable' },
    }),
    /in use by another run/,
  );
  await sandbox.stop();
  assertReplayedWhole(server);
  // Back on this host, as the sandbox's root (an unprivileged copy cannot give other owners).
  assert.deepEqual((await readdir(layer)).sort(), ['kept.txt', 'made.txt']);
  assert.equal((await readFile(join(layer, 'made.txt'))).toString(), 'new\n');
  assert.equal((await stat(join(layer, 'made.txt'))).uid, idMapping.toHost(0));
  assert.deepEqual((await readdir(opened.upperDir)).sort(), ['workspace'], 'no staging left');
  // The workspace is free again.
  const lock = await acquireLock(opened.lockPath, 'exclusive', () => new ConflictError('busy'));
  await lock.release();
});
