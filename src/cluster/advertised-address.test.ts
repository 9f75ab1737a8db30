import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MagsError } from '../errors/mags-error.ts';
import { advertisedAddress, isLoopbackAddress } from './advertised-address.ts';

test('a host registers its --advertise, else its listen URL unless that names no machine', () => {
  assert.equal(
    advertisedAddress('http://10.0.0.5:7070', 'http://0.0.0.0:7070'),
    'http://10.0.0.5:7070',
  );
  assert.equal(advertisedAddress(undefined, 'http://127.0.0.1:7070'), 'http://127.0.0.1:7070');
  assert.equal(advertisedAddress(undefined, 'http://10.0.0.5:7070'), 'http://10.0.0.5:7070');
  for (const listenUrl of ['http://0.0.0.0:7070', 'http://[::]:7070']) {
    assert.throws(
      () => advertisedAddress(undefined, listenUrl),
      (error: unknown) => error instanceof MagsError && error.code === 'advertise_needed',
    );
  }
  assert.ok(isLoopbackAddress('127.0.0.1') && isLoopbackAddress('[::1]'));
  assert.ok(!isLoopbackAddress('10.0.0.5'));
});
