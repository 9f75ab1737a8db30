import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../errors/mags-error.ts';
import { createMagsContext } from './mags-context.ts';

test('MAGS_RUNTIME picks the runtime (namespace by default); an unknown one is refused', () => {
  const home = '/nonexistent/mags-home'; // factories do no I/O: nothing is touched
  for (const value of [undefined, '', 'namespace']) {
    const context = createMagsContext({ MAGS_HOME: home, MAGS_RUNTIME: value });
    assert.equal(context.runtime.name, 'namespace');
    assert.equal(context.runtime.specificationVersion, 'runtime-v2');
  }
  assert.throws(
    () => createMagsContext({ MAGS_HOME: home, MAGS_RUNTIME: 'qemu' }),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      /Unknown runtime "qemu"/.test(error.message) &&
      /namespace/.test(error.hint ?? ''),
  );
});
