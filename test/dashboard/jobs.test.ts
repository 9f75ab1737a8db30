/**
 * The jobs pages in a real browser against a real server on the namespace runtime: the list
 * (live: a job submitted through the SDK appears and succeeds without a reload), and a job's page following its log live — a line the job prints only after the page is open
 * appears, ANSI colours come without their escapes, and the final status shows when it ends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Mags } from '../../src/sdk/mags.ts';
import {
  browserSkipReason,
  launchBrowser,
  screenshot,
  seriousAccessibilityViolations,
  signIn,
  viewports,
  watchPage,
} from '../helpers/browser.ts';
import { sandboxSkipReason } from '../helpers/test-home.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

const skip = browserSkipReason() ?? sandboxSkipReason();
if (skip) process.stdout.write(`# skipping dashboard jobs tests: ${skip}\n`);

describe('dashboard jobs', { skip, timeout: 300_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: { token: string; mags: Mags };
  const sandbox = 'worker';
  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    browser = await launchBrowser();
    alice = await server.client('alice');
    await alice.mags.sandboxes.create({ name: sandbox, ephemeral: true });
  });
  after(async () => {
    await browser?.close();
    await alice?.mags.sandboxes.delete(sandbox).catch(() => {});
    await server?.close();
  });

  test("a job's page follows its log live and shows how it ended", async () => {
    // The job waits for a file the test writes once the page shows its first line, so what it
    // prints after that reached the page over the live stream, not in the first read.
    const job = await alice.mags.sandboxes.exec(sandbox, [
      'sh',
      '-c',
      `echo before-the-page; while [ ! -e /tmp/go ]; do sleep 0.1; done
       for i in 1 2 3 4 5; do printf '\\033[32mgreen-%s\\033[0m after-the-page\\n' "$i"; sleep 0.4; done
       exit 3`,
    ]);
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, alice.token);
    await page.goto(`${server.url}/jobs/${job.id}`);
    const log = page.locator('.job-log');
    await log.getByText('before-the-page').waitFor();
    assert.equal(await page.getByRole('status').getByText('running').count(), 1);
    assert.doesNotMatch(await log.innerText(), /after-the-page/);

    await alice.mags.sandboxes.files.write(sandbox, '/tmp/go', '');
    await log.getByText('green-1 after-the-page').waitFor();
    await page.getByRole('status').getByText('failed').waitFor();
    const text = await log.innerText();
    assert.match(text, /green-5 after-the-page/);
    assert.ok(
      !text.includes('[32m') && !text.includes('\u001b'),
      'colour escapes not shown as text',
    );
    assert.match(await page.locator('dl.facts').innerText(), /Exit code\s+3/);
    assert.match(await page.locator('dl.facts').innerText(), /Runtime\s+namespace/);
    assert.deepEqual(await seriousAccessibilityViolations(page), []);
    await screenshot(page, 'job-page-1280');
    await page.setViewportSize(viewports.phone);
    await screenshot(page, 'job-page-390');
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('a long log: an escape and a progress line cut across chunks render right; past 5 MB the start is trimmed', async () => {
    // 6 MB of lines, then a colour escape cut in two by a pause, then a progress line that a
    // carriage return rewrites after a pause: each pause puts the rest in a later chunk.
    const job = await alice.mags.sandboxes.exec(sandbox, [
      'sh',
      '-c',
      `echo first-line-of-the-log; yes "$(printf '%099d' 0)" | head -n 60000
       printf '\\033[3'; sleep 0.5; printf '1mRED-SPLIT\\033[0m\\n'
       printf 'progress 10%%'; sleep 0.5; printf '\\rprogress 100%%\\n'; echo last-line`,
    ]);
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, alice.token);
    await page.goto(`${server.url}/jobs/${job.id}`);
    await page.getByRole('status').getByText('succeeded').waitFor({ timeout: 120_000 });
    await page.locator('.job-log').getByText('last-line').waitFor();
    const shown = (await page.evaluate(`(() => {
      const log = document.querySelector('.job-log');
      return {
        length: log.textContent.length,
        first: log.textContent.includes('first-line-of-the-log'),
        progress: log.textContent.match(/progress \\d+%/g),
        red: [...log.querySelectorAll('span.ansi-red')].map((span) => span.textContent),
        escapes: log.textContent.includes('\\u001b'),
      };
    })()`)) as {
      length: number;
      first: boolean;
      progress: string[];
      red: string[];
      escapes: boolean;
    };
    assert.deepEqual(shown.red, ['RED-SPLIT']);
    assert.deepEqual(shown.progress, ['progress 100%']);
    assert.equal(shown.escapes, false);
    assert.equal(shown.first, false, 'the start of the log is trimmed');
    assert.ok(shown.length < 5.5 * 1024 * 1024, `${shown.length} characters shown`);
    await page.getByText(`Earlier output trimmed — full log: mags logs ${job.id}`).waitFor();
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('the list shows jobs with status, command, exit code; one leads to its page', async () => {
    const done = await alice.mags.runAndWait(['sh', '-c', 'echo listed; exit 0']);
    assert.equal(done.exitCode, 0);
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, alice.token);
    await page.getByRole('link', { name: 'Jobs' }).click();
    const row = page.getByRole('row').filter({ has: page.getByText(done.job.id) });
    await row.getByText('succeeded').waitFor();
    assert.match(await row.innerText(), /sh -c 'echo listed; exit 0'/);

    // Live (jobs.follow): a job submitted now appears at the top running, then succeeds, with
    // no reload. It waits for a file the test writes once the page shows it running.
    const later = await alice.mags.sandboxes.exec(sandbox, [
      'sh',
      '-c',
      'while [ ! -e /tmp/go-list ]; do sleep 0.1; done; echo submitted-later',
    ]);
    const laterRow = page.getByRole('row').filter({ has: page.getByText(later.id) });
    await laterRow.getByText('running', { exact: true }).waitFor();
    assert.match(await page.getByRole('row').nth(1).innerText(), new RegExp(later.id));
    await alice.mags.sandboxes.files.write(sandbox, '/tmp/go-list', '');
    await laterRow.getByText('succeeded', { exact: true }).waitFor();
    assert.deepEqual(await seriousAccessibilityViolations(page), []);
    await screenshot(page, 'jobs-list-1280');
    await page.setViewportSize(viewports.phone);
    await screenshot(page, 'jobs-list-390');
    await row.getByRole('link', { name: done.job.id }).click();
    await page.locator('.job-log').getByText('listed').waitFor();
    assert.deepEqual(watched.problems, []);
    await context.close();
  });
});
