/**
 * `mags dashboard` on a host without a chosen server: it starts the local server and prints
 * its address and token; a browser signs in with them and sees the local owner's board. With a
 * chosen server it names that server's page and prints no token.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { browserSkipReason, launchBrowser, signIn, watchPage } from '../helpers/browser.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from '../helpers/test-home.ts';

const skip = sandboxSkipReason() ?? browserSkipReason();
if (skip) process.stdout.write(`# skipping mags dashboard tests: ${skip}\n`);

describe('mags dashboard', { skip }, () => {
  let testHome: TestHome;
  before(async () => {
    testHome = await createTestHome();
  });
  after(async () => {
    const local = await readFile(join(testHome.home, 'local-server.json'), 'utf8').catch(
      () => undefined,
    );
    if (local) process.kill((JSON.parse(local) as { pid: number }).pid, 'SIGKILL');
    await testHome.cleanup();
  });

  test('prints the local server and its token, which sign a browser in', async () => {
    const env = { XDG_CONFIG_HOME: join(testHome.home, 'no-config') };
    const result = await runCli(testHome.home, ['dashboard'], { env });
    assert.equal(result.code, 0, result.stderr);
    const [url, token] = result.stdout.toString().trim().split('\n');
    assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.match(token ?? '', /^mags_/);
    assert.match(result.stderr, /loopback only/);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const origin = (url as string).replace(/\/$/, '');
      const watched = watchPage(page, origin);
      await signIn(page, origin, token as string);
      await page.getByText('local', { exact: true }).waitFor();
      assert.deepEqual(watched.problems, []);
    } finally {
      await browser.close();
    }
  });

  test('with a chosen server: its page, and no token printed', async () => {
    const result = await runCli(testHome.home, ['dashboard'], {
      env: {
        XDG_CONFIG_HOME: join(testHome.home, 'no-config'),
        MAGS_URL: 'http://build-host:7070/',
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), 'http://build-host:7070/\n');
    assert.match(result.stderr, /mags token create/);
  });
});
