import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AuthenticationError,
  MagsError,
  PermissionDeniedError,
  RateLimitError,
} from '../errors/mags-error.ts';
import { errorFromResponse } from './api-error.ts';

const body = (code: string) => ({ error: { code, message: `${code} happened`, hint: 'a hint' } });

test('401 is an AuthenticationError; 403 (a file the sandbox may not touch) is not', () => {
  assert.ok(errorFromResponse(401, body('unauthorized')) instanceof AuthenticationError);
  for (const code of ['permission_denied', 'read_only']) {
    const error = errorFromResponse(403, body(code));
    assert.ok(error instanceof PermissionDeniedError, code);
    assert.ok(!(error instanceof AuthenticationError), code);
    assert.equal(error.code, code);
    assert.equal(error.statusCode, 403);
    assert.equal(error.hint, 'a hint'); // the server's hint, not the one about tokens
    assert.equal(error.retryable, false);
  }
});

test('a 503 too_many_transfers is retryable; 429 carries Retry-After', () => {
  const busy = errorFromResponse(503, body('too_many_transfers'));
  assert.equal(busy.retryable, true);
  assert.equal(busy.code, 'too_many_transfers');
  const limited = errorFromResponse(429, body('rate_limited'), new Headers({ 'retry-after': '7' }));
  assert.ok(limited instanceof RateLimitError);
  assert.equal(limited.retryAfterSeconds, 7);
  assert.ok(errorFromResponse(500, {}) instanceof MagsError);
});
