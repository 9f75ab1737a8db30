import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimitError } from '../errors/mags-error.ts';
import { maxUpgradesPerSandbox, UpgradeCounts } from './url-upgrades.ts';

test('a sandbox holds at most 64 upgrades through its URLs; one more is a 503 to retry', () => {
  const counts = new UpgradeCounts();
  const releases = Array.from({ length: maxUpgradesPerSandbox }, () => counts.open('alice', 'web'));
  assert.throws(
    () => counts.open('alice', 'web'),
    (error: unknown) =>
      error instanceof RateLimitError &&
      error.statusCode === 503 &&
      error.retryAfterSeconds === 5 &&
      /already has 64 WebSocket connections/.test(error.message),
  );
  // Another sandbox, or another owner's sandbox of the same name, has its own count.
  counts.open('alice', 'api')();
  counts.open('bob', 'web')();
  // A release frees one slot, once however often it is called.
  const first = releases[0] as () => void;
  first();
  first();
  const again = counts.open('alice', 'web');
  assert.throws(() => counts.open('alice', 'web'), RateLimitError);
  again();
  for (const release of releases) release();
});
