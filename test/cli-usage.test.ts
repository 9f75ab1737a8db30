/**
 * What a new user meets first, through the real CLI (bin/mags.js): unknown commands are errors
 * with a suggestion, help still works, and messages end their last line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestHome, runCli, type TestHome } from './helpers/test-home.ts';

describe('mags usage', () => {
  let testHome: TestHome;
  before(async () => {
    testHome = await createTestHome();
  });
  after(() => testHome.cleanup());

  test('an unknown command is an error, also with --help after it, with a suggestion when one is close', async () => {
    const cases: Array<[string[], string, string | undefined]> = [
      [['deploy', 'create', '--help'], 'deploy', undefined],
      [['deploy'], 'deploy', undefined],
      [['--url', 'http://127.0.0.1:9', 'deploy', '--help'], 'deploy', undefined],
      [['workspce', 'list', '--help'], 'workspce', 'workspace'],
      [['workspace', 'pul', '--help'], 'pul', 'pull'],
      [['runn', 'x'], 'runn', 'run'],
      [['help', 'tokn'], 'tokn', 'token'],
    ];
    for (const [args, name, suggestion] of cases) {
      const result = await runCli(testHome.home, args);
      const what = `mags ${args.join(' ')}`;
      assert.equal(result.code, 1, what);
      assert.equal(result.stdout.toString(), '', `${what} printed help: ${result.stdout}`);
      assert.match(result.stderr, new RegExp(`^error: unknown command '${name}'\n`), what);
      if (suggestion)
        assert.match(result.stderr, new RegExp(`\\(Did you mean ${suggestion}\\?\\)`));
      else assert.doesNotMatch(result.stderr, /Did you mean/, what);
    }
  });

  test('help for real commands still prints and exits 0', async () => {
    for (const args of [
      ['--help'],
      ['workspace', '--help'],
      ['workspace', 'pull', '--help'],
      ['help', 'run'],
      ['plan', 'create', '--help'],
    ]) {
      const result = await runCli(testHome.home, args);
      assert.equal(result.code, 0, `mags ${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout.toString(), /^Usage: mags/);
    }
  });

  test('mags doctor ends its last line', async () => {
    for (const args of [['doctor'], ['doctor', '--json']]) {
      const result = await runCli(testHome.home, args);
      assert.ok(result.stdout.length > 0, result.stderr);
      assert.ok(result.stdout.toString().endsWith('\n'), JSON.stringify(result.stdout.toString()));
    }
  });
});
