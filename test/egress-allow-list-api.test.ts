/**
 * Egress allow-lists through the API (in-process, fake runtime): bad rules are a 400 naming what
 * is wrong and nothing is recorded; the server's default list fills in a run that asks for
 * network without one; a runtime that cannot filter refuses the list instead of opening the
 * network. The enforcement itself: test/egress-allow-list.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { planRunJob, type RunJobRequest } from '../src/jobs/run-job.ts';
import { startLongLivedSandbox } from '../src/sandboxes/start-long-lived-sandbox.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

let app: TestApp;
let token: string;
before(async () => {
  app = await createTestApp();
  ({ token } = await app.token('alice'));
  app.fake.context.defaults.allow = [{ host: 'registry.npmjs.org', port: 443 }];
});
after(() => app.close());

test('a bad rule is a 400 that says what is wrong, and no job is recorded', async () => {
  const before = (await app.services.repository.listJobs({ owner: 'alice', limit: 100 })).jobs
    .length;
  for (const [allow, message] of [
    [[{ host: '169.254.169.254' }], /never reaches/],
    [[{ cidr: '127.0.0.0/8' }], /never reaches/],
    [[{ host: 'bad_name' }], /Bad host name/],
    [[{ host: 'a.test', port: 70000 }], /port|65535/],
    [[{ url: 'http://x' }], /./],
  ] as const) {
    const response = await app.request(token, 'POST', '/v1/jobs', { command: 'true', allow });
    assert.equal(response.status, 400, JSON.stringify(allow));
    assert.match(await response.text(), message);
  }
  assert.equal(
    (await app.services.repository.listJobs({ owner: 'alice', limit: 100 })).jobs.length,
    before,
  );
});

test("the server's default list: a run with network and no list gets it; its own replaces it", () => {
  // Planned on a runtime that declares the capability (the fake one cannot filter).
  const filtering = {
    ...app.fake.runtime,
    capabilities: { ...app.fake.runtime.capabilities, egressAllowList: true },
  };
  const context = { ...app.fake.context, runtime: filtering, runtimes: { fake: filtering } };
  const plan = (request: Partial<RunJobRequest>) =>
    planRunJob(context, 'alice', { argv: ['true'], ...request }, undefined).runOptions;
  assert.deepEqual(plan({ network: true }).allow, [{ host: 'registry.npmjs.org', port: 443 }]);
  assert.equal(plan({}).allow, undefined);
  assert.equal(plan({ network: false }).allow, undefined);
  assert.deepEqual(plan({ allow: [{ host: 'example.test' }] }).allow, [{ host: 'example.test' }]);
});

test('a runtime without egressAllowList refuses a list up front (400), never opens the network', async () => {
  const run = await app.request(token, 'POST', '/v1/jobs', {
    command: 'true',
    allow: [{ host: 'example.test' }],
  });
  assert.equal(run.status, 400);
  assert.match(await run.text(), /fake runtime cannot limit egress to an allow-list/);
  const sandbox = await app.request(token, 'POST', '/v1/sandboxes', {
    name: 'filtered',
    allow: [{ host: 'example.test' }],
  });
  assert.equal(sandbox.status, 400);
  assert.match(await sandbox.text(), /cannot limit egress/);
  // The server's default list counts the same: a run asking for network gets it, and is refused.
  const withDefault = await app.request(token, 'POST', '/v1/jobs', {
    command: 'true',
    network: true,
  });
  assert.equal(withDefault.status, 400);
  const plain = await app.request(token, 'POST', '/v1/jobs', { command: 'true' });
  assert.equal(plain.status, 201);
  assert.equal(app.fake.runtime.running.size, 0);
});

test("a long-lived sandbox keeps the list it was created with, whatever the server's default later", async () => {
  const saved = app.fake.context.defaults.allow;
  app.fake.context.defaults.allow = undefined;
  try {
    const created = await app.request(token, 'POST', '/v1/sandboxes', {
      name: 'settled',
      network: true,
    });
    assert.equal(created.status, 201, await created.text());
    const record = await app.services.repository.getSandbox('alice', 'settled');
    assert.ok(record);
    // All of the network, settled: an empty list, not "whatever the server says at start".
    assert.deepEqual((record.options as { allow?: unknown }).allow, []);
    // A server restarted with a default list starts it as it was created.
    for (const running of [...app.fake.runtime.running]) await running.stop();
    app.fake.context.defaults.allow = [{ host: 'registry.npmjs.org', port: 443 }];
    const sandbox = await startLongLivedSandbox(app.fake.context, record, undefined);
    assert.equal(app.fake.runtime.specs.at(-1)?.network.egress, 'all');
    await sandbox.stop();
  } finally {
    app.fake.context.defaults.allow = saved;
  }
});
