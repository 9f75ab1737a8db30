import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../errors/mags-error.ts';
import { createSandboxBody } from './sandbox-tools.ts';

test("sandbox_create's flat arguments map onto the API's CreateSandboxBody", () => {
  assert.deepEqual(
    createSandboxBody({
      name: 'dev',
      workspace: 'app',
      network: 'full',
      memoryMiB: 1024,
      cpus: 0.5,
      pidsMax: 256,
      diskMiB: 2048,
      sleep: false,
    }),
    {
      name: 'dev',
      workspace: 'app',
      network: true,
      limits: { memoryMiB: 1024, cpus: 0.5, pidsMax: 256, diskMiB: 2048 },
      sleep: false,
    },
  );
  assert.deepEqual(createSandboxBody({ name: 'quiet', network: 'none' }), {
    name: 'quiet',
    network: false,
  });
  const allow = [{ host: 'registry.npmjs.org', port: 443 }, { cidr: '10.0.0.0/8' }];
  assert.deepEqual(createSandboxBody({ name: 'some', network: 'allow_list', allow }), {
    name: 'some',
    allow,
  });
});

test('without a name, sandbox_create picks a fresh valid one; without options it sends none', () => {
  const first = createSandboxBody({});
  const second = createSandboxBody({});
  assert.match(first.name, /^mcp-[0-9a-f]{8}$/);
  assert.notEqual(first.name, second.name);
  assert.deepEqual(Object.keys(first), ['name']);
});

test('an allow list without network "allow_list", or "allow_list" without one, is refused', () => {
  assert.throws(
    () => createSandboxBody({ network: 'full', allow: [{ host: 'example.com' }] }),
    (error) => error instanceof InvalidInputError && /allow_list/.test(error.hint ?? ''),
  );
  assert.throws(
    () => createSandboxBody({ network: 'allow_list' }),
    (error) => error instanceof InvalidInputError && /allow/.test(error.message),
  );
  assert.throws(() => createSandboxBody({ network: 'allow_list', allow: [] }), InvalidInputError);
});
