import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { CapabilityUnsupportedError } from '../errors/mags-error.ts';
import type { Sandbox } from '../runtimes/runtime.ts';
import type { SandboxUrlRecord } from '../state/state-repository.ts';
import type { UrlAccess } from '../urls/url-access.ts';
import { openPortOf } from './port-agent.ts';
import { answerHeaders, forwardedHeaders, protocolOf } from './url-forward-headers.ts';

/** Just what the header functions read of a request or an answer. */
const message = (headers: Record<string, string | string[]>, remoteAddress = '127.0.0.1') =>
  ({ headers, socket: { remoteAddress } }) as unknown as IncomingMessage;

const access = (via: UrlAccess['via']): UrlAccess => ({
  record: { id: 'url_00000000000000a1', owner: 'alice' } as SandboxUrlRecord,
  via,
});

test('a mags token never reaches the app, whatever let the request in; the app’s own does', () => {
  for (const via of ['public', 'link', 'token'] as const) {
    const headers = forwardedHeaders(message({ authorization: 'Bearer mags_abc' }), access(via));
    assert.equal(headers.authorization, undefined, via);
  }
  const own = forwardedHeaders(message({ authorization: 'Bearer app-1' }), access('public'));
  assert.equal(own.authorization, 'Bearer app-1');
});

test('a body without a length goes on chunked; one with a length keeps it', () => {
  const chunked = forwardedHeaders(message({ 'transfer-encoding': 'chunked' }), access('token'));
  assert.equal(chunked['transfer-encoding'], 'chunked');
  const sized = forwardedHeaders(message({ 'content-length': '5' }), access('token'));
  assert.equal(sized['transfer-encoding'], undefined);
  assert.equal(sized['content-length'], '5');
});

test('X-Forwarded-Proto https is believed from this host only', () => {
  assert.equal(protocolOf(message({ 'x-forwarded-proto': 'https' })), 'https');
  assert.equal(protocolOf(message({ 'x-forwarded-proto': 'https' }, '::ffff:127.0.0.1')), 'https');
  assert.equal(protocolOf(message({ 'x-forwarded-proto': 'https' }, '203.0.113.9')), 'http');
  assert.equal(protocolOf(message({})), 'http');
  const forwarded = forwardedHeaders(
    message({ 'x-forwarded-proto': 'https' }, '203.0.113.9'),
    access('public'),
  );
  assert.equal(forwarded['x-forwarded-proto'], 'http');
});

test('answers: no Service-Worker-Allowed; the path form keeps the app’s cookies under /u/ID/', () => {
  const answer = message({
    'service-worker-allowed': '/',
    'set-cookie': ['a=1; Path=/; HttpOnly', 'b=2; path=/app', 'c=3'],
    'content-type': 'text/html',
  });
  const hostForm = answerHeaders(answer);
  assert.equal(hostForm['service-worker-allowed'], undefined);
  assert.deepEqual(hostForm['set-cookie'], ['a=1; Path=/; HttpOnly', 'b=2; path=/app', 'c=3']);
  const pathForm = answerHeaders(answer, { pathPrefix: '/u/url_00000000000000a1' });
  assert.deepEqual(pathForm['set-cookie'], [
    'a=1; Path=/u/url_00000000000000a1/; HttpOnly',
    'b=2; Path=/u/url_00000000000000a1/app',
    // No Path: the browser scopes it to the request's directory, already under /u/ID/.
    'c=3',
  ]);
});

test('a runtime without ports is refused as a rejected promise, naming the capability', async () => {
  const opened = openPortOf({} as Sandbox, 8080, 'fake');
  assert.ok(opened instanceof Promise);
  await assert.rejects(opened, (error: unknown) => {
    assert.ok(error instanceof CapabilityUnsupportedError);
    assert.equal(error.capability, 'ports');
    assert.equal(error.runtime, 'fake');
    return true;
  });
});
