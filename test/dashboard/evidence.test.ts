/**
 * The evidence review in a real browser, on a real server whose tickets are worked by scripted
 * models on the real namespace runtime: an oracle's fix shown as a diff with the tests and the
 * met criterion, approved with the button (the branch on the page, approved in the API); a
 * liar's claim shown beside the failed check and sent back with a comment; markup in a diff
 * shown as text; another owner's evidence a 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import {
  browserSkipReason,
  launchBrowser,
  screenshot,
  seriousAccessibilityViolations,
  signIn,
  viewports,
  watchPage,
} from '../helpers/browser.ts';
import {
  call,
  type EndToEndServer,
  finish,
  followTicket,
  startEndToEndServer,
} from '../helpers/end-to-end-tickets.ts';
import { sandboxSkipReason } from '../helpers/test-home.ts';

const skip = browserSkipReason() ?? sandboxSkipReason();
if (skip) process.stdout.write(`# skipping evidence page tests: ${skip}\n`);

/** What a locator shows as text (Playwright's, not the DOM's). */
const text = async (locator: Locator) => (await locator.textContent()) ?? '';

const fix = call('edit_file', { path: 'sum.js', oldText: 'a - b', newText: 'a + b' });

describe('evidence review page', { skip }, () => {
  let e2e: EndToEndServer;
  let browser: Browser;
  before(async () => {
    e2e = await startEndToEndServer();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await e2e?.close();
  });

  /** A signed-in page of alice's at `width`, watched for errors and foreign requests. */
  async function openPage(viewport: { width: number; height: number } = viewports.desktop) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const watched = watchPage(page, e2e.server.url);
    await signIn(page, e2e.server.url, e2e.aliceToken);
    return { page, watched, close: () => context.close() };
  }

  async function openEvidence(page: Page, id: string) {
    await page.goto(`${e2e.server.url}/tickets/${id}/evidence`);
    await page.getByRole('heading', { name: 'The platform verified' }).waitFor();
  }

  test('an oracle: the fix in the diff, 2 tests passed, the criterion met; approved by the button', async () => {
    const oracle = e2e.model([fix, finish('sum adds now', true, 'node --test passes')]);
    const created = await e2e.alice.tickets.create(e2e.body(oracle.id));
    await followTicket(e2e.alice, created.id);
    assert.equal((await e2e.alice.tickets.get(created.id)).status, 'awaiting_review');

    const { page, watched, close } = await openPage();
    await openEvidence(page, created.id);
    const file = page.getByRole('region', { name: 'Changes to sum.js' });
    await file.waitFor();
    assert.match(
      await text(file.locator('.diff-row-removed .diff-code')),
      /exports\.sum = \(a, b\) => a - b;/,
    );
    assert.match(
      await text(file.locator('.diff-row-added .diff-code')),
      /exports\.sum = \(a, b\) => a \+ b;/,
    );
    // The syntax colours arrive from their own chunk, as spans (never HTML).
    await file.locator('.diff-code span[class^="hljs-"]').first().waitFor();
    await page.getByRole('navigation', { name: 'Changed files' }).getByText('sum.js').waitFor();
    const counts = page.getByRole('list', { name: 'Test counts' });
    assert.match(await text(counts), /2 passed/);
    assert.match(await text(counts), /0 failed/);
    const criterion = page.locator('tr.criterion').first();
    assert.match(await text(criterion), /sum adds/);
    assert.equal(await text(criterion.locator('.badge')), 'met');
    assert.equal(await page.locator('.evidence-contradiction').count(), 0);
    assert.equal(await text(page.locator('.evidence-summary')), 'sum adds now');

    await page.getByRole('button', { name: 'Side by side' }).click();
    await page.locator('.diff-split td.diff-side-removed').first().waitFor();
    assert.deepEqual(await seriousAccessibilityViolations(page), []);
    await screenshot(page, 'evidence-desktop');

    await page.setViewportSize(viewports.phone);
    // No room side by side on a phone: unified, and no toggle.
    await page.locator('.diff-unified').first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Side by side' }).count(), 0);
    assert.deepEqual(await seriousAccessibilityViolations(page), []);
    await screenshot(page, 'evidence-phone');
    await page.setViewportSize(viewports.desktop);

    await page.getByRole('button', { name: 'Approve…' }).click();
    await page.getByText(`as branch mags/${created.id}`).waitFor();
    await page.getByRole('button', { name: 'Confirm: approve' }).click();
    const result = page.getByRole('status').filter({ hasText: 'Approved' });
    await result.waitFor();
    const approved = await e2e.alice.tickets.get(created.id);
    assert.equal(approved.status, 'approved');
    assert.equal(approved.branch, `mags/${created.id}`);
    assert.match(await text(result), new RegExp(`branch mags/${created.id}`));
    assert.match(await text(result), new RegExp(`mags ticket apply ${created.id}`));
    // Approved: nothing left to approve or send back.
    assert.equal(await page.getByRole('button', { name: 'Approve…' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Request changes…' }).count(), 0);
    assert.deepEqual(watched.problems, []);
    await close();
  });

  test('a liar: its claim beside the failed check; sent back with a comment', async () => {
    const liar = e2e.model([
      finish('fixed everything', true, 'trust me'),
      fix,
      finish('fixed it for real', true),
    ]);
    const created = await e2e.alice.tickets.create(e2e.body(liar.id));
    await followTicket(e2e.alice, created.id);

    const { page, watched, close } = await openPage();
    await openEvidence(page, created.id);
    const warning = page.locator('.evidence-contradiction');
    await warning.waitFor();
    assert.match(await text(warning), /claims success/);
    const criterion = page.locator('tr.criterion').first();
    assert.equal(await text(criterion.locator('.badge')), 'not met');
    assert.match(await text(criterion), /claims met/);
    assert.match(await text(criterion), /trust me/);
    assert.match(await text(page.getByRole('list', { name: 'Test counts' })), /1 failed/);
    await page.getByText('No changes.').waitFor();

    await page.getByRole('button', { name: 'Request changes…' }).click();
    const feedback = 'The check fails: sum(2, 3) is -1. Fix sum.js.';
    await page.getByLabel('What should change').fill(feedback);
    await screenshot(page, 'evidence-review-confirm');
    await page.getByRole('button', { name: 'Confirm: request changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Changes requested: attempt 2' }).waitFor();
    const sent = await e2e.alice.tickets.get(created.id);
    assert.equal(sent.attempt, 2);
    assert.ok(['queued', 'running', 'awaiting_review'].includes(sent.status), sent.status);
    assert.equal(await page.getByRole('button', { name: 'Approve…' }).count(), 0);
    const events = await followTicket(e2e.alice, created.id);
    assert.ok(
      events.some((event) => event.data.type === 'comment' && event.data.text === feedback) ||
        (liar.prompts()[1] ?? '').includes(feedback),
      'the feedback reached the agent',
    );
    assert.deepEqual(watched.problems, []);
    await close();
  });

  test("a run the budget ended: the platform's ending, not shown as the agent's words", async () => {
    const endless = e2e.model(() => call('run_command', { command: 'echo still looking' }));
    const created = await e2e.alice.tickets.create(
      e2e.body(endless.id, { budget: { maxSteps: 2 } }),
    );
    await followTicket(e2e.alice, created.id);
    const evidence = await e2e.alice.tickets.evidence(created.id);
    assert.equal(evidence.agentEnd, 'budget_steps');

    const { page, watched, close } = await openPage();
    await openEvidence(page, created.id);
    await page.getByRole('heading', { name: 'The agent did not finish' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'The agent says' }).count(), 0);
    const ended = page.locator('.evidence-run-ended');
    assert.equal(await text(ended), `The run ended: ${evidence.agentMessage}`);
    assert.deepEqual(watched.problems, []);
    await close();
  });

  test('markup in a diff is text; another owner gets the API 404', async () => {
    const markup = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    const writer = e2e.model([
      call('write_file', { path: 'page.html', content: `${markup}\n` }),
      finish('wrote a page', false),
    ]);
    const created = await e2e.alice.tickets.create(e2e.body(writer.id));
    await followTicket(e2e.alice, created.id);

    const { page, watched, close } = await openPage();
    await openEvidence(page, created.id);
    const file = page.getByRole('region', { name: 'Changes to page.html' });
    await file.waitFor();
    // Highlighted as HTML, its tags still text.
    await file.locator('.diff-code span[class^="hljs-"]').first().waitFor();
    assert.equal(await text(file.locator('.diff-row-added .diff-code').first()), markup);
    assert.equal(
      await page.evaluate(`document.querySelectorAll('main img, main script').length`),
      0,
    );
    assert.deepEqual(watched.problems, []);
    await close();

    const bobs = await browser.newContext();
    const bobPage = await bobs.newPage();
    const bob = await e2e.server.client('bob');
    await signIn(bobPage, e2e.server.url, bob.token);
    await bobPage.goto(`${e2e.server.url}/tickets/${created.id}/evidence`);
    await bobPage.getByRole('alert').filter({ hasText: created.id }).waitFor();
    assert.match(await text(bobPage.getByRole('alert').first()), /not found|no ticket/i);
    await bobs.close();
  });

  test('opened while the agent works: "No evidence" until the run ends, then the evidence', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const agent = e2e.model(async (index) => {
      if (index === 0) {
        await released; // the run goes on until the page is open on its missing evidence
        return fix;
      }
      return finish('fixed while you waited', true);
    });
    const created = await e2e.alice.tickets.create(e2e.body(agent.id));
    const { page, watched, close } = await openPage();
    try {
      await page.goto(`${e2e.server.url}/tickets/${created.id}/evidence`);
      await page.getByRole('alert').filter({ hasText: 'No evidence' }).waitFor();
      release();
      await page.getByRole('heading', { name: 'The platform verified' }).waitFor({
        timeout: 90_000,
      });
      await page.getByText('fixed while you waited').first().waitFor();
      assert.equal(await page.getByText('No evidence').count(), 0);
      // The evidence's 404 while the agent worked is the only console error.
      assert.deepEqual(
        watched.problems.filter((problem) => !/404/.test(problem)),
        [],
      );
    } finally {
      release();
      await close();
    }
  });
});
