/**
 * Signing in to the dashboard in a real browser (headless Chromium): a wrong token is refused
 * with the API's message, the right one opens the board, the token is never in a URL, the page
 * requests nothing from another origin and breaks no rule of its policy, and sign-out forgets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { revokeToken } from '../../src/server/tokens.ts';
import {
  browserSkipReason,
  launchBrowser,
  seriousAccessibilityViolations,
  signIn,
  watchPage,
} from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

const skip = browserSkipReason();
if (skip) process.stdout.write(`# skipping dashboard sign-in tests: ${skip}\n`);

describe('dashboard sign-in', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('a wrong token is refused; the right one signs in; sign-out forgets it', async () => {
    const { token } = await server.client('alice');
    const context = await browser.newContext();
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await page.goto(`${server.url}/tickets`);
    await page.getByLabel('API token').fill('mags_wrongwrongwrongwrongwrongwrongwr');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('Invalid API token').waitFor();
    // The page's own help, for a local user and a shared server's, comes before the API's hint
    // (which speaks of headers, to API users).
    await page.getByText('mags dashboard', { exact: true }).waitFor();
    await page.getByText('mags token create --owner NAME', { exact: true }).first().waitFor();
    const helpFirst = `(() => { const help = document.querySelector('.sign-in-help');
      const alert = document.querySelector('[role=alert]');
      return Boolean(help.compareDocumentPosition(alert) & Node.DOCUMENT_POSITION_FOLLOWING); })()`;
    assert.equal(await page.evaluate(helpFirst), true);

    await signIn(page, server.url, token);
    await page.getByText('alice', { exact: true }).waitFor();
    assert.equal(await page.evaluate(`sessionStorage.getItem('mags.token')`), token);
    assert.equal(await page.evaluate(`localStorage.getItem('mags.token')`), null);
    assert.equal(await page.evaluate('document.cookie'), '');
    for (const url of watched.requests) assert.ok(!url.includes(token), `token in ${url}`);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${server.url}/sign-in`);
    assert.equal(await page.evaluate(`sessionStorage.getItem('mags.token')`), null);
    await page.goto(`${server.url}/tickets`);
    await page.getByLabel('API token').waitFor();
    // The 401 of the wrong token is the only console error a browser logs here.
    const unexpected = watched.problems.filter((problem) => !/401/.test(problem));
    assert.deepEqual(unexpected, []);
    await context.close();
  });

  test('a token revoked while signed in ends the session at the next call', async () => {
    const { token, tokenId } = await server.client('alice');
    const page = await browser.newPage();
    // The board's own calls must all have been answered before the token goes: one still in
    // flight would be refused and its sign-out redirect would race the reload below.
    const projectsListed = page.waitForResponse((response) =>
      response.url().endsWith('/v1/projects'),
    );
    await signIn(page, server.url, token);
    await projectsListed;
    await page.getByText('No tickets yet').waitFor();
    await revokeToken(server.server.services.repository, tokenId);
    // Any API call now gets a 401: the board's own, on a reload.
    await page.reload();
    await page.getByRole('alert').getByText('This API token was revoked').waitFor();
    assert.equal(await page.evaluate(`sessionStorage.getItem('mags.token')`), null);
    assert.deepEqual(await seriousAccessibilityViolations(page), []);
    await page.close();
  });

  test('a token revoked while signed in ends the session at the next call an in-app link makes', async () => {
    const { token, tokenId } = await server.client('alice');
    const page = await browser.newPage();
    // The board's own calls must all have been answered before the token goes, or one of them
    // (not the link's) is the one refused.
    const projectsListed = page.waitForResponse((response) =>
      response.url().endsWith('/v1/projects'),
    );
    await signIn(page, server.url, token);
    await projectsListed;
    await page.getByText('No tickets yet').waitFor();
    await revokeToken(server.server.services.repository, tokenId);
    // No reload: the jobs page's own call (its stream) is the one refused.
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.waitForURL(`${server.url}/sign-in?expired`);
    await page.getByRole('status').getByText('no longer accepts that token').waitFor();
    assert.equal(await page.evaluate(`sessionStorage.getItem('mags.token')`), null);
    await page.close();
  });
});
