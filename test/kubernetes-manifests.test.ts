/**
 * The manifests under deploy/kubernetes/ read as a cluster would: every document parses, the
 * RBAC is one namespaced Role with exactly what the Kubernetes runtime calls (no ClusterRole, no
 * `*`, no Secrets), the server pods run as non-root under the restricted Pod Security settings,
 * secrets reach the server as variables from Secrets (never literal, never in arguments), and
 * every flag and variable the manifests set is one mags reads.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { createProgram } from '../src/cli/create-program.ts';
import { packageRoot } from '../src/config/package-paths.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below.
type Manifest = any;

const directory = join(packageRoot(), 'deploy', 'kubernetes');
const files = (await readdir(directory)).filter((name) => name.endsWith('.yaml')).sort();
const documents = new Map<string, Manifest[]>();
for (const name of files) {
  const parsed = parseAllDocuments(await readFile(join(directory, name), 'utf8'));
  documents.set(
    name,
    parsed.map((document) => {
      assert.deepEqual(document.errors, [], `${name} parses`);
      assert.deepEqual(document.warnings, [], `${name} parses without warnings`);
      return document.toJS();
    }),
  );
}
const applied = [...documents.entries()]
  .filter(([name]) => name !== 'kustomization.yaml' && name !== 'secrets.example.yaml')
  .flatMap(([, manifests]) => manifests);
const byKind = (kind: string) => applied.filter((manifest) => manifest.kind === kind);
/** The server workloads: the API servers' Deployment and the hosts' StatefulSet. */
const deployments = [...byKind('Deployment'), ...byKind('StatefulSet')];
const containers = deployments.flatMap((deployment) => deployment.spec.template.spec.containers);
/** The Kubernetes runtime's namespace: where its pods go and where its Role must be. */
const sandboxNamespace = 'mags-sandboxes';

test('every manifest parses, names itself, and kustomization.yaml lists every applied file', async () => {
  assert.ok(files.length >= 5, `manifests found in ${directory}`);
  for (const manifest of applied) {
    assert.ok(
      manifest.apiVersion && manifest.kind && manifest.metadata?.name,
      JSON.stringify(manifest).slice(0, 80),
    );
    if (manifest.kind !== 'Namespace') {
      assert.ok(
        ['mags', sandboxNamespace].includes(manifest.metadata.namespace),
        `${manifest.kind} ${manifest.metadata.name} is namespaced`,
      );
    }
  }
  const [kustomization] = documents.get('kustomization.yaml') ?? [];
  assert.deepEqual(
    [...kustomization.resources].sort(),
    files.filter((name) => !['kustomization.yaml', 'secrets.example.yaml'].includes(name)),
  );
  assert.deepEqual(
    byKind('Namespace')
      .map((namespace) => namespace.metadata.name)
      .sort(),
    ['mags', sandboxNamespace],
  );
});

test('the RBAC is one Role in the sandbox namespace with what the runtime calls, bound to the hosts only', () => {
  for (const kind of ['ClusterRole', 'ClusterRoleBinding'])
    assert.deepEqual(byKind(kind), [], `no ${kind}`);
  const roles = byKind('Role');
  assert.equal(roles.length, 1);
  const [role] = roles;
  assert.equal(role.metadata.namespace, sandboxNamespace);
  const granted: Record<string, string[]> = {};
  for (const rule of role.rules) {
    for (const field of ['apiGroups', 'resources', 'verbs']) {
      assert.ok(!rule[field].includes('*'), `no wildcard in ${field}`);
    }
    assert.ok(!rule.resources.includes('secrets'), 'no access to Secrets');
    for (const resource of rule.resources)
      granted[`${rule.apiGroups.join(',')}/${resource}`] = [...rule.verbs].sort();
  }
  // The Kubernetes runtime's calls (src/runtimes/kubernetes): pods created, read, listed, deleted;
  // the exec stream (get: WebSocket upgrades before 1.35); events listed; a NetworkPolicy per pod.
  assert.deepEqual(granted, {
    '/pods': ['create', 'delete', 'get', 'list'],
    '/pods/exec': ['create', 'get'],
    '/events': ['list'],
    'networking.k8s.io/networkpolicies': ['create', 'delete', 'list'],
  });
  const [binding, ...others] = byKind('RoleBinding');
  assert.equal(others.length, 0);
  assert.equal(binding.metadata.namespace, sandboxNamespace);
  assert.deepEqual(binding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'Role',
    name: role.metadata.name,
  });
  assert.deepEqual(binding.subjects, [
    { kind: 'ServiceAccount', name: 'mags-host', namespace: 'mags' },
  ]);
  // Only the hosts get a token; the API servers never talk to Kubernetes.
  for (const deployment of deployments) {
    const pod = deployment.spec.template.spec;
    const account = byKind('ServiceAccount').find(
      (candidate) => candidate.metadata.name === pod.serviceAccountName,
    );
    assert.ok(account, `${deployment.metadata.name}'s service account exists`);
    const mountsToken =
      pod.automountServiceAccountToken ?? account.automountServiceAccountToken ?? true;
    assert.equal(
      mountsToken,
      pod.serviceAccountName === 'mags-host',
      `${deployment.metadata.name}: token only for hosts`,
    );
    const args: string[] = pod.containers[0].args;
    if (args.includes('--runtime=kubernetes')) {
      assert.ok(
        args.includes(`--k8s-namespace=${sandboxNamespace}`),
        'the runtime uses the namespace its Role is in',
      );
    }
  }
});

test('server pods run as non-root with no privilege, a read-only root and the runtime default seccomp', () => {
  assert.ok(deployments.length >= 1);
  for (const deployment of deployments) {
    const pod = deployment.spec.template.spec;
    const name = deployment.metadata.name;
    assert.equal(pod.securityContext.runAsNonRoot, true, name);
    assert.ok(pod.securityContext.runAsUser > 0, name);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', name);
    for (const field of ['hostNetwork', 'hostPID', 'hostIPC'])
      assert.notEqual(pod[field], true, `${name}: no ${field}`);
    for (const volume of pod.volumes ?? [])
      assert.equal(volume.hostPath, undefined, `${name}: no hostPath`);
    for (const container of pod.containers) {
      const context = container.securityContext;
      assert.equal(context.allowPrivilegeEscalation, false, name);
      assert.equal(context.readOnlyRootFilesystem, true, name);
      assert.notEqual(context.privileged, true, name);
      assert.deepEqual(context.capabilities, { drop: ['ALL'] }, name);
      assert.ok(container.resources?.limits?.memory, `${name}: a memory limit`);
      assert.equal(container.readinessProbe.httpGet.path, '/health', name);
      // MAGS_HOME must be a writable volume under a read-only root.
      const home = container.env.find((variable: Manifest) => variable.name === 'MAGS_HOME')?.value;
      assert.ok(
        container.volumeMounts.some((mount: Manifest) => mount.mountPath === home),
        `${name}: MAGS_HOME is a volume`,
      );
    }
  }
});

test('the state URL and the S3 keys come from Secrets as variables, never literal or in arguments', async () => {
  const secrets = documents.get('secrets.example.yaml') ?? [];
  const secretKeys = new Map(
    secrets.map((secret) => [secret.metadata.name, Object.keys(secret.stringData)]),
  );
  const mustBeSecret = [
    'MAGS_STATE',
    'MAGS_S3_ACCESS_KEY_ID',
    'MAGS_S3_SECRET_ACCESS_KEY',
    'MAGS_S3_BUCKET',
  ];
  for (const container of containers) {
    const variables = new Map(container.env.map((variable: Manifest) => [variable.name, variable]));
    for (const name of mustBeSecret) {
      const reference = (variables.get(name) as Manifest)?.valueFrom?.secretKeyRef;
      assert.ok(reference, `${name} is read from a Secret`);
      assert.ok(
        secretKeys.get(reference.name)?.includes(reference.key),
        `${reference.name}/${reference.key} is in secrets.example.yaml`,
      );
    }
    for (const variable of container.env) {
      if (/SECRET|PASSWORD|TOKEN|ACCESS_KEY|STATE/.test(variable.name))
        assert.equal(variable.value, undefined, `${variable.name} is not written in the manifest`);
    }
    for (const argument of container.args) {
      assert.doesNotMatch(
        argument,
        /postgres(ql)?:\/\/|--state|secret|password/i,
        'no secret in the arguments',
      );
    }
  }
});

test('every flag and variable the manifests give mags server is one it reads', async () => {
  const server = createProgram().commands.find((command) => command.name() === 'server');
  const known = new Set(server?.options.map((option) => option.long));
  const sources = await sourceText(join(packageRoot(), 'src'));
  for (const container of containers) {
    const [command, ...flags] = container.args;
    assert.equal(command, 'server');
    for (const flag of flags) {
      const name = flag.split('=')[0];
      assert.ok(known.has(name), `mags server ${name} exists`);
      const variable = /\$\((\w+)\)/.exec(flag)?.[1];
      if (variable)
        assert.ok(
          container.env.some((entry: Manifest) => entry.name === variable),
          `$(${variable}) is set`,
        );
    }
    for (const { name } of container.env) {
      if (name === 'POD_IP') continue; // only expanded in the arguments
      assert.ok(sources.includes(name), `${name} is read by mags`);
    }
  }
});

async function sourceText(root: string): Promise<string> {
  const parts: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      parts.push(await readFile(join(entry.parentPath, entry.name), 'utf8'));
    }
  }
  return parts.join('\n');
}

test('the hosts keep their names across restarts (a StatefulSet): MAGS_HOST_ID is the pod name', () => {
  const [hosts, ...others] = byKind('StatefulSet');
  assert.equal(others.length, 0);
  assert.equal(hosts.metadata.name, 'mags-host');
  const service = byKind('Service').find(
    (candidate) => candidate.metadata.name === hosts.spec.serviceName,
  );
  assert.equal(service?.spec.clusterIP, 'None', 'its governing Service is headless');
  const env = hosts.spec.template.spec.containers[0].env as Manifest[];
  assert.equal(
    env.find((variable) => variable.name === 'MAGS_HOST_ID')?.valueFrom?.fieldRef?.fieldPath,
    'metadata.name',
  );
});

test('the servers take ingress on their port only, from the servers and labelled ingress namespaces', () => {
  const policy = byKind('NetworkPolicy').find(
    (candidate) => candidate.metadata.namespace === 'mags',
  );
  assert.ok(policy, 'a NetworkPolicy in namespace mags');
  assert.deepEqual(policy.spec.podSelector, { matchLabels: { 'app.kubernetes.io/name': 'mags' } });
  for (const workload of deployments) {
    assert.equal(
      workload.spec.template.metadata.labels['app.kubernetes.io/name'],
      'mags',
      `${workload.metadata.name} is selected`,
    );
  }
  assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
  assert.deepEqual(
    policy.spec.ingress.flatMap((rule: Manifest) => rule.ports),
    [{ protocol: 'TCP', port: 7070 }],
  );
  assert.ok(
    !policy.spec.ingress.some((rule: Manifest) =>
      (rule.from ?? []).some(
        (peer: Manifest) =>
          peer.ipBlock ||
          (peer.namespaceSelector && Object.keys(peer.namespaceSelector).length === 0),
      ),
    ),
    'no ipBlock, no all-namespaces peer',
  );
});
