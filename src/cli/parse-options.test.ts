import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  commandArgv,
  parseEnvironment,
  parseMemoryMiB,
  parsePositiveNumber,
} from './parse-options.ts';

test('memory sizes', () => {
  assert.equal(parseMemoryMiB('512'), 512);
  assert.equal(parseMemoryMiB('512m'), 512);
  assert.equal(parseMemoryMiB('2g'), 2048);
  assert.equal(parseMemoryMiB('1.5GiB'), 1536);
  for (const bad of ['', 'lots', '-1g', '2x', '1k'])
    assert.throws(() => parseMemoryMiB(bad), /Invalid --memory|at least/);
});

test('positive numbers', () => {
  assert.equal(parsePositiveNumber('--cpus', '0.5'), 0.5);
  assert.throws(() => parsePositiveNumber('--pids', '1.5', { integer: true }), /positive integer/);
  assert.throws(() => parsePositiveNumber('--timeout', '0'), /Invalid --timeout/);
});

test('environment entries keep everything after the first =', () => {
  assert.deepEqual(parseEnvironment(['A=1', 'B=x=y', 'C=']), { A: '1', B: 'x=y', C: '' });
  assert.throws(() => parseEnvironment(['=1']), /Invalid --env/);
  assert.throws(() => parseEnvironment(['NOVALUE']), /Invalid --env/);
});

test('one word is a shell script, several are an argv', () => {
  assert.deepEqual(commandArgv(['echo a && echo b']), ['/bin/sh', '-c', 'echo a && echo b']);
  assert.deepEqual(commandArgv(['ls', '-la']), ['ls', '-la']);
});
