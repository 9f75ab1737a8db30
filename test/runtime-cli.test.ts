/**
 * `--runtime` through the real CLI (bin/mags.js): `mags run`, `mags new` and `mags server` take
 * it; an unknown name is an error that lists the runtimes there are, before anything starts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

describe('--runtime (CLI)', () => {
  let testHome: TestHome;
  before(async () => {
    testHome = await createTestHome();
  });
  after(() => testHome.cleanup());

  test('run, new and server take --runtime NAME', async () => {
    for (const command of ['run', 'new', 'server']) {
      const help = await runCli(testHome.home, [command, '--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout.toString(), /--runtime <name>/, command);
    }
    const missing = await runCli(testHome.home, ['run', '--runtime']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /option '--runtime <name>' argument missing/);
  });

  test('an unknown runtime is an error naming the ones there are; nothing runs', async () => {
    // No server here: the run would be embedded in the CLI process.
    const run = await runCli(testHome.home, ['run', '--runtime', 'no-such-runtime', 'echo ran']);
    assert.equal(run.code, 2, run.stderr); // an input error
    assert.equal(run.stdout.toString(), '');
    assert.match(run.stderr, /Unknown runtime "no-such-runtime"/);
    assert.match(run.stderr, /Available here: namespace\b.*\(default namespace\)/);
    const server = await runCli(testHome.home, [
      'server',
      '--runtime',
      'no-such-runtime',
      '--port',
      '0',
    ]);
    assert.equal(server.code, 2, server.stderr);
    assert.match(server.stderr, /Unknown runtime "no-such-runtime"/);
    assert.match(server.stderr, /Available on this build: namespace/);
  });

  const skip = sandboxSkipReason();
  test('mags run --runtime namespace runs there', { skip }, async () => {
    const run = await runCli(testHome.home, ['run', '--runtime', 'namespace', 'echo ran']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.toString(), 'ran\n');
  });
});
