/**
 * The dashboard's shell in a real browser (headless Chromium): a malformed address shows "no
 * page" and leaves the navigation working; navigating names the tab after the page and puts
 * keyboard focus on the new page's content; a stored theme is there from the first frame.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  browserSkipReason,
  launchBrowser,
  screenshot,
  signIn,
  viewports,
  watchPage,
} from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

const skip = browserSkipReason();
if (skip) process.stdout.write(`# skipping dashboard shell tests: ${skip}\n`);

/** Whether the focused element is the page's main region or inside it. */
const focusInMain = `Boolean(document.activeElement && document.activeElement.closest('main'))`;

describe('dashboard shell', { skip }, () => {
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

  test('a malformed address shows no page, and the navigation still works', async () => {
    const { token } = await server.client('alice');
    const page = await browser.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, token);
    await page.goto(`${server.url}/tickets/%E0%A4`);
    await page.getByRole('alert').getByText('No page at /tickets/%E0%A4.').waitFor();
    assert.equal(await page.evaluate('document.title'), 'No such page · mags');
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0);
    assert.deepEqual(watched.problems, []);
    await page.close();
  });

  test('navigating names the tab after the page and focuses its content', async () => {
    const { token } = await server.client('bob');
    const page = await browser.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, token);
    await page.getByRole('heading', { name: 'Tickets' }).waitFor();
    assert.equal(await page.evaluate('document.title'), 'Tickets · mags');

    const nav = page.getByRole('navigation', { name: 'Sections' });
    await nav.getByRole('link', { name: 'Sandboxes' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Sandboxes' }).waitFor();
    assert.equal(await page.evaluate('document.title'), 'Sandboxes · mags');
    assert.equal(await page.evaluate(focusInMain), true);

    await nav.getByRole('link', { name: 'Workspaces' }).click();
    await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
    assert.equal(await page.evaluate('document.title'), 'Workspaces · mags');
    assert.equal(await page.evaluate(focusInMain), true);

    // Back to the board: its title again.
    await page.goBack();
    await page.getByRole('heading', { name: 'Sandboxes' }).waitFor();
    assert.equal(await page.evaluate('document.title'), 'Sandboxes · mags');
    assert.deepEqual(watched.problems, []);
    await page.close();
  });

  test('at 390 px every section link is in sight, none scrolled out of the strip', async () => {
    const { token } = await server.client('dave');
    const page = await browser.newPage({ viewport: viewports.phone });
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, token);
    await page.getByRole('heading', { name: 'Tickets' }).waitFor();
    const links = page.getByRole('navigation', { name: 'Sections' }).getByRole('link');
    const count = await links.count();
    assert.ok(count >= 6, `${count} section links`);
    for (let index = 0; index < count; index += 1) {
      const link = links.nth(index);
      const name = await link.textContent();
      const box = await link.boundingBox();
      assert.ok(box, `${name} has a box`);
      assert.ok(box.x >= 0 && box.x + box.width <= viewports.phone.width, `${name} is cut`);
      assert.ok(box.y >= 0 && box.y + box.height <= viewports.phone.height, `${name} is cut`);
    }
    // Nothing scrolls sideways: a link outside the strip's box would be clipped though its own
    // box reads as on screen.
    const strip = `(() => { const nav = document.querySelector('nav.sections');
      return nav.scrollWidth <= nav.clientWidth; })()`;
    assert.equal(await page.evaluate(strip), true);
    await screenshot(page, 'shell-board-390');
    assert.deepEqual(watched.problems, []);
    await page.close();
  });

  test('a stored dark theme is on the document before the app renders', async () => {
    const { token } = await server.client('carol');
    const context = await browser.newContext({ colorScheme: 'light' });
    const page = await context.newPage();
    await signIn(page, server.url, token);
    await page.getByRole('button', { name: 'Theme: auto' }).click();
    await page.getByRole('button', { name: 'Theme: dark' }).waitFor();
    // At DOMContentLoaded the module script has run but no API answer has come: the app shows
    // only "Signing in…". The theme must be set by then, not after the app's first effects.
    await page.addInitScript(`document.addEventListener('DOMContentLoaded', () => {
      window.themeAtLoad = document.documentElement.dataset.theme ?? 'none';
      window.appAtLoad = document.getElementById('app').textContent;
    })`);
    await page.reload();
    await page.getByRole('heading', { name: 'Tickets' }).waitFor();
    assert.equal(await page.evaluate('window.themeAtLoad'), 'dark');
    assert.match(String(await page.evaluate('window.appAtLoad')), /Signing in/);
    // The toggle's theme wins over the system's light one: the dark --bg (light-dark()).
    const background = 'getComputedStyle(document.body).backgroundColor';
    assert.equal(await page.evaluate(background), 'rgb(15, 18, 22)');
    await page.getByRole('button', { name: 'Theme: dark' }).click();
    await page.getByRole('button', { name: 'Theme: light' }).waitFor();
    assert.equal(await page.evaluate(background), 'rgb(255, 255, 255)');
    await screenshot(page, 'shell-board-light-toggled');
    await context.close();
  });
});
