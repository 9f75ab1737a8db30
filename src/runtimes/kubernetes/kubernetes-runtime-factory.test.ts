import assert from 'node:assert/strict';
import { registerHooks } from 'node:module';
import { test } from 'node:test';

// Every module this file loads is resolved through here (registered before any of them).
const clientLoads: string[] = [];
registerHooks({
  resolve(specifier, context, next) {
    if (specifier.startsWith('@kubernetes/')) clientLoads.push(specifier);
    return next(specifier, context);
  },
});

test('a context offers kubernetes without loading the Kubernetes client (over a second to import)', async () => {
  const { createMagsContext } = await import('../../context/mags-context.ts');
  const context = createMagsContext({ MAGS_HOME: '/nonexistent/mags-home' });
  const kubernetes = context.runtimes.kubernetes;
  assert.ok(kubernetes);
  assert.equal(kubernetes.capabilities.reattach, true);
  // A server start lists every reattachable runtime: without an image, no cluster to ask.
  assert.deepEqual(await kubernetes.list?.(), []);
  assert.equal(clientLoads.length, 0, clientLoads.join(', '));
  // A start without an image says what to set, and only then loads the client.
  await assert.rejects(
    kubernetes.start({
      id: 'factory-1',
      image: { name: 'default' },
      limits: { memoryMiB: 256, cpus: 1, pidsMax: 64 },
      network: { egress: 'none' },
    }),
    /no sandbox image/,
  );
  assert.ok(clientLoads.includes('@kubernetes/client-node'));
});

test('a bad MAGS_K8S_* setting breaks only the kubernetes runtime, which says why', async () => {
  const { createMagsContext } = await import('../../context/mags-context.ts');
  const context = createMagsContext({
    MAGS_HOME: '/nonexistent/mags-home',
    MAGS_K8S_NAMESPACE: 'Bad_Namespace',
  });
  assert.equal(context.runtime.name, 'namespace');
  const check = await context.runtimes.kubernetes?.check();
  assert.equal(check?.ok, false);
  assert.match(check?.problems.join('\n') ?? '', /MAGS_K8S_NAMESPACE "Bad_Namespace"/);
});
