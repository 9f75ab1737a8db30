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
    () => createMagsContext({ MAGS_HOME: home, MAGS_RUNTIME: 'no-such-runtime' }),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      /Unknown runtime "no-such-runtime"/.test(error.message) &&
      /namespace/.test(error.hint ?? ''),
  );
});

test('MAGS_UID_BASE is the setting of the namespace runtime: the stores take the mapping it asks for', () => {
  const home = '/nonexistent/mags-home';
  const context = createMagsContext({ MAGS_HOME: home, MAGS_UID_BASE: '200000' });
  assert.equal(context.workspaces.idMapping.toHost(0), 200_000);
  assert.equal(context.workspaces.idMapping.toSandbox(200_005), 5);
  assert.equal(createMagsContext({ MAGS_HOME: home }).workspaces.idMapping.toHost(0), 100_000);
  for (const value of ['0', '-5', '1.5', 'many']) {
    assert.throws(
      () => createMagsContext({ MAGS_HOME: home, MAGS_UID_BASE: value }),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        /MAGS_UID_BASE must be a positive integer/.test(error.message),
      value,
    );
  }
});
