import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../errors/mags-error.ts';
import { Mags } from './mags.ts';
import { pathSegment } from './path-segment.ts';

test('a path segment is encoded; ".", ".." and "" are refused', () => {
  assert.equal(pathSegment('dev.1'), 'dev.1');
  assert.equal(pathSegment('a/b'), 'a%2Fb');
  for (const bad of ['.', '..', '']) {
    assert.throws(() => pathSegment(bad, 'sandbox name'), InvalidInputError);
  }
});

test('the SDK refuses "." and ".." as names and ids before sending any request', async () => {
  let requests = 0;
  const mags = new Mags({
    url: 'http://127.0.0.1:9',
    token: 'unused',
    fetch: async () => {
      requests++;
      return new Response('{}', { status: 200 });
    },
  });
  await assert.rejects(async () => mags.sandboxes.get('.'), InvalidInputError);
  await assert.rejects(async () => mags.sandboxes.stop('..'), InvalidInputError);
  await assert.rejects(async () => mags.sandboxes.exec('..', 'true'), InvalidInputError);
  await assert.rejects(async () => mags.jobs.get('..'), InvalidInputError);
  await assert.rejects(async () => mags.jobs.stop('.'), InvalidInputError);
  await assert.rejects(async () => mags.workspaces.versions('..'), InvalidInputError);
  await assert.rejects(async () => mags.workspaces.fork('.', 'copy'), InvalidInputError);
  assert.equal(requests, 0);
});
