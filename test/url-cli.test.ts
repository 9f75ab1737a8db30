/**
 * `mags url` without a server: a sandbox URL is served by a server's proxy, so the CLI says that
 * one is needed (and how to start it) instead of starting one; bad input is refused before any
 * server is looked for.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from './helpers/test-home.ts';

let home: string;
// No MAGS_URL, no saved login, no local server in this home.
const env = () => ({ MAGS_URL: '', MAGS_API_TOKEN: '', XDG_CONFIG_HOME: join(home, 'config') });

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'mags-url-cli-'));
});
after(() => rm(home, { recursive: true, force: true }));

test('mags url without a server says that it needs one, and how to start it', async () => {
  const result = await runCli(home, ['url', 'web', '8080'], { env: env() });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /mags url needs a server/);
  assert.match(result.stderr, /mags server --host 0\.0\.0\.0/);
});

test('mags url refuses a bad port, a bad duration and a missing port before anything else', async () => {
  for (const [args, pattern] of [
    [['url', 'web', '0'], /not a TCP port/],
    [['url', 'web', 'http'], /not a TCP port/],
    [['url', 'web', '8080', '--expires', 'soon'], /not a duration/],
    [['url', 'web'], /needs a sandbox and a port/],
  ] as const) {
    const result = await runCli(home, [...args], { env: env() });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, pattern);
  }
});
