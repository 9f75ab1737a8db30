import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../errors/mags-error.ts';
import { validateWorkspaceName } from './workspace-name.ts';

test('accepts portable names, including ticket names', () => {
  for (const name of [
    'myproject',
    'a',
    'My_Project-2.0',
    'TICKET-42-0b5c6a1e-7f7a-4c39-9d43-2f4f1c1e9a11',
  ]) {
    assert.equal(validateWorkspaceName(name), name);
  }
});

test('rejects traversal, separators, empty, long and odd names with a clear message', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['../x', /Invalid workspace name/],
    ['a/b', /Invalid workspace name/],
    ['..', /Invalid workspace name/],
    ['a..b', /Invalid workspace name/],
    ['.hidden', /Invalid workspace name/],
    ['-flag', /Invalid workspace name/],
    ['a b', /Invalid workspace name/],
    ['a@3', /Invalid workspace name/],
    ['x'.repeat(101), /101 characters long; the limit is 100/],
    ['naïve', /Invalid workspace name/],
  ];
  for (const [name, message] of cases) {
    assert.throws(
      () => validateWorkspaceName(name),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.match(error.message, message);
        assert.ok(error.hint);
        return true;
      },
    );
  }
});
