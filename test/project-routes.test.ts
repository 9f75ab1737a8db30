/**
 * The project routes in-process (`app.request`), on the fake runtime: owners are isolated (another
 * owner's project is a 404 for every route), bad input is a 400 that creates nothing. Nothing here
 * reaches a sandbox: importing for real is test/projects.test.ts, on the namespace runtime.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { InvalidInputError } from '../src/errors/mags-error.ts';
import { checkHostPathAllowed } from '../src/projects/host-repository.ts';
import { parseProjectConfig } from '../src/projects/project-config.ts';
import { ProjectConfigError, ProjectPathNotAllowedError } from '../src/projects/project-errors.ts';
import { errorFromResponse } from '../src/sdk/api-error.ts';
import { localOwner } from '../src/workspaces/owner-workspace.ts';
import { projectRecord } from './helpers/project-record.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

let app: TestApp;
let alice: string;
let bob: string;
before(async () => {
  app = await createTestApp();
  alice = (await app.token('alice')).token;
  bob = (await app.token('bob')).token;
  await app.services.repository.insertProject(
    projectRecord('webapp', { setup: 'npm ci', test: 'npm test', config: { test: 'npm test' } }),
  );
});
after(() => app.close());

test("the owner sees the project; another owner's is a 404 on every route", async () => {
  const own = await app.request(alice, 'GET', '/v1/projects/webapp');
  assert.equal(own.status, 200);
  const body = (await own.json()) as Record<string, unknown>;
  assert.equal(body.name, 'webapp');
  assert.equal(body.commit, 'c0ffee');
  assert.equal('owner' in body, false);
  const list = (await (await app.request(alice, 'GET', '/v1/projects')).json()) as {
    projects: { name: string }[];
  };
  assert.deepEqual(
    list.projects.map((project) => project.name),
    ['webapp'],
  );
  const bobs = (await (await app.request(bob, 'GET', '/v1/projects')).json()) as {
    projects: unknown[];
  };
  assert.deepEqual(bobs.projects, []);
  for (const [method, path, payload] of [
    ['GET', '/v1/projects/webapp', undefined],
    ['PATCH', '/v1/projects/webapp', { test: 'true' }],
    ['POST', '/v1/projects/webapp/refresh', undefined],
    ['DELETE', '/v1/projects/webapp', undefined],
  ] as const) {
    const response = await app.request(bob, method, path, payload);
    assert.equal(response.status, 404, `${method} ${path}`);
    const error = (await response.json()) as { error: { code: string } };
    assert.equal(error.error.code, 'project_not_found');
  }
  assert.equal((await app.services.repository.getProject('alice', 'webapp'))?.test, 'npm test');
});

test('update changes a command; null falls back to the repository file', async () => {
  const changed = await app.request(alice, 'PATCH', '/v1/projects/webapp', {
    test: 'npm run check',
    model: 'openai:gpt-5',
  });
  assert.equal(changed.status, 200);
  const body = (await changed.json()) as { test: string; model: string };
  assert.deepEqual([body.test, body.model], ['npm run check', 'openai:gpt-5']);
  const back = (await (
    await app.request(alice, 'PATCH', '/v1/projects/webapp', { test: null })
  ).json()) as { test: string };
  assert.equal(back.test, 'npm test');
});

test('bad input is a 400 and creates nothing', async () => {
  const badName = await app.request(alice, 'POST', '/v1/projects', { name: '../x', repo: '/x' });
  assert.equal(badName.status, 400);
  const plain = join(app.fake.home, 'not-a-repository');
  await mkdir(plain);
  const notGit = await app.request(alice, 'POST', '/v1/projects', { name: 'plain', repo: plain });
  assert.equal(notGit.status, 400);
  const error = (await notGit.json()) as { error: { code: string; message: string } };
  assert.equal(error.error.code, 'project_repository_invalid');
  assert.match(error.error.message, /not a git repository/);
  assert.equal(await app.services.repository.getProject('alice', 'plain'), undefined);
  const exists = await app.request(alice, 'POST', '/v1/projects', {
    name: 'webapp',
    repo: plain,
  });
  assert.equal(exists.status, 409);
});

test('an unknown model provider is a 400 listing the providers, on create, update and in .mags/project.json', async () => {
  const expectUnknown = async (response: Response) => {
    assert.equal(response.status, 400);
    const { error } = (await response.json()) as { error: { code: string; hint: string } };
    assert.equal(error.code, 'unknown_model_provider');
    assert.match(error.hint, /anthropic, openai, xai/);
  };
  // No key is needed for that check: a key may be set on the server later.
  await expectUnknown(
    await app.request(alice, 'POST', '/v1/projects', {
      name: 'bogus',
      repo: join(app.fake.home, 'anywhere'),
      model: 'bogus:x',
    }),
  );
  assert.equal(await app.services.repository.getProject('alice', 'bogus'), undefined);
  await expectUnknown(
    await app.request(alice, 'PATCH', '/v1/projects/webapp', { model: 'bogus:x', test: 'x' }),
  );
  const kept = await app.services.repository.getProject('alice', 'webapp');
  assert.notEqual(kept?.model, 'bogus:x');
  assert.notEqual(kept?.test, 'x');
  // A known provider without its key is stored.
  const keyless = await app.request(alice, 'PATCH', '/v1/projects/webapp', { model: 'xai:grok-4' });
  assert.equal(keyless.status, 200);
  assert.throws(
    () => parseProjectConfig(JSON.stringify({ model: 'bogus:x' })),
    (error: unknown) =>
      error instanceof ProjectConfigError &&
      error.field === 'model' &&
      /Unknown model provider "bogus"/.test(error.message) &&
      /anthropic, openai, xai/.test(error.message),
  );
  assert.throws(
    () =>
      parseProjectConfig(
        JSON.stringify({ roles: { tester: { systemPrompt: 'Test.', model: 'nosuch:m' } } }),
      ),
    (error: unknown) => error instanceof ProjectConfigError && error.field === 'roles.tester.model',
  );
  assert.deepEqual(parseProjectConfig(JSON.stringify({ model: 'ollama:qwen3:8b' })), {
    model: 'ollama:qwen3:8b',
  });
});

test("a host path outside the server's project roots is refused, symlinks resolved first", async () => {
  // The test app allows paths under its home only (MAGS_PROJECT_ROOTS on a real server).
  const outside = await mkdtemp(join(tmpdir(), 'mags-outside-'));
  try {
    const expectRefused = async (repo: string, name: string) => {
      const response = await app.request(bob, 'POST', '/v1/projects', { name, repo });
      assert.equal(response.status, 403, repo);
      const { error } = (await response.json()) as { error: { code: string; hint: string } };
      assert.equal(error.code, 'project_path_not_allowed');
      assert.match(error.hint, /--net/);
      assert.match(error.hint, /MAGS_PROJECT_ROOTS/);
      assert.equal(await app.services.repository.getProject('bob', name), undefined);
    };
    await expectRefused(outside, 'outside');
    await expectRefused('/etc', 'etc');
    // Refused whether or not it exists: nothing is learnt about the host.
    await expectRefused(join(outside, 'missing'), 'missing');
    // A symlink under the root to a directory outside it.
    const link = join(app.fake.home, 'escape');
    await symlink(outside, link);
    await expectRefused(link, 'escape');
    await expectRefused(join(app.fake.home, '..', 'x'), 'dotdot');
    // Changing a project's repository to such a path is refused too.
    const patched = await app.request(alice, 'PATCH', '/v1/projects/webapp', { repo: link });
    assert.equal(patched.status, 403);
    assert.equal(
      (await app.services.repository.getProject('alice', 'webapp'))?.repo,
      '/srv/webapp',
    );
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
});

test('on a shared server without roots only the local owner may import a host path', async () => {
  const repo = await mkdtemp(join(tmpdir(), 'mags-repo-'));
  try {
    await assert.rejects(
      checkHostPathAllowed('bob', repo, []),
      (error: unknown) =>
        error instanceof ProjectPathNotAllowedError &&
        error.statusCode === 403 &&
        /imports no paths/.test(error.message) &&
        /--net/.test(error.hint ?? ''),
    );
    // The host's own local server (mags server --local): its user's files.
    const real = await checkHostPathAllowed(localOwner, repo, []);
    assert.equal(real, repo);
    // Under a root: allowed, as its real path.
    assert.equal(await checkHostPathAllowed('bob', repo, [tmpdir()]), repo);
    await assert.rejects(checkHostPathAllowed('bob', repo, [join(tmpdir(), 'other')]), {
      code: 'project_path_not_allowed',
    });
  } finally {
    await rm(repo, { recursive: true, force: true });
  }
});

test('a model whose provider key the server lacks is a 400 that trying again does not fix', async () => {
  const response = await app.request(alice, 'POST', '/v1/tickets', {
    project: 'webapp',
    title: 'Fix it',
    request: 'Fix it.',
    criteria: [{ text: 'fixed' }],
    model: 'anthropic:claude-sonnet-4-5',
  });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: { code: string; hint: string } };
  assert.equal(body.error.code, 'model_key_missing');
  assert.match(body.error.hint, /ANTHROPIC_API_KEY/);
  const error = errorFromResponse(response.status, body);
  assert.ok(error instanceof InvalidInputError);
  assert.equal(error.retryable, false);
});

test('the OpenAPI document describes the project routes', async () => {
  const document = (await (await app.request(undefined, 'GET', '/openapi.json')).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  assert.deepEqual(Object.keys(document.paths['/v1/projects'] ?? {}).sort(), ['get', 'post']);
  assert.deepEqual(Object.keys(document.paths['/v1/projects/{name}'] ?? {}).sort(), [
    'delete',
    'get',
    'patch',
  ]);
  assert.ok(document.paths['/v1/projects/{name}/refresh']?.post);
});

test('a NUL character in client text is a 400 naming the field, and nothing is stored or changed', async () => {
  // PostgreSQL's text cannot hold NUL: the API refuses it on every state backend alike.
  const expectNul = async (response: Response, field: string) => {
    assert.equal(response.status, 400, field);
    const { error } = (await response.json()) as { error: { message: string; hint?: string } };
    assert.match(`${error.message} ${error.hint}`, new RegExp(`${field}.*NUL`, 's'), field);
  };
  const create = { name: 'nul', repo: join(app.fake.home, 'repository') };
  for (const field of ['repo', 'ref', 'setup', 'test'] as const) {
    await expectNul(
      await app.request(alice, 'POST', '/v1/projects', { ...create, [field]: 'a\u0000b' }),
      field,
    );
  }
  assert.equal(await app.services.repository.getProject('alice', 'nul'), undefined);
  const before = await app.services.repository.getProject('alice', 'webapp');
  for (const field of ['repo', 'setup', 'test'] as const) {
    await expectNul(
      await app.request(alice, 'PATCH', '/v1/projects/webapp', { [field]: 'a\u0000b' }),
      field,
    );
  }
  assert.deepEqual(await app.services.repository.getProject('alice', 'webapp'), before);
  await expectNul(
    await app.request(alice, 'POST', '/v1/jobs', { command: ['echo', 'a\u0000b'] }),
    'command',
  );
  await expectNul(
    await app.request(alice, 'POST', '/v1/cron', { schedule: '@daily\u0000', command: 'true' }),
    'schedule',
  );
});
