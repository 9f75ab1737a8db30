/**
 * The whole flow in one browser session, as a person does it: sign in, create a ticket
 * with the board's form, start it from its page and watch the agent's events arrive live, open
 * the evidence, approve, and read the branch the result became. A real server on the namespace
 * runtime, the real agent loop driven by a scripted model, headless Chromium.
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
import {
  call,
  type EndToEndServer,
  finish,
  startEndToEndServer,
  sumCheck,
} from '../helpers/end-to-end-tickets.ts';
import { sandboxSkipReason } from '../helpers/test-home.ts';

const skip = browserSkipReason() ?? sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the dashboard's review flow: ${skip}\n`);

/** Only the command's output says `AFTER-START-42`: its line holds `$((40+2))`. */
const probeCommand = 'echo AFTER-START-$((40+2))';
const longWaitMs = 90_000;

describe("the dashboard's review flow", { skip }, () => {
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

  test('sign in, create a ticket, watch it live, review its evidence, approve, see the branch', async () => {
    const agent = e2e.model([
      call('run_command', { command: probeCommand }),
      call('edit_file', { path: 'sum.js', oldText: 'a - b', newText: 'a + b' }),
      finish('sum adds now', true, 'the check passes'),
    ]);
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, e2e.server.url);
    try {
      await signIn(page, e2e.server.url, e2e.aliceToken);

      // The board's form: a draft with a checked criterion, the scripted model and a budget.
      await page.getByRole('button', { name: 'New ticket' }).click();
      const form = page.locator('form.create-ticket');
      await form.getByLabel('Project').selectOption('calc');
      await form.getByLabel('Title').fill('Make sum add');
      await form.getByLabel('Request').fill('sum(a, b) subtracts; it must add.');
      await form.getByLabel('Criterion 1', { exact: true }).fill('sum(2, 3) is 5');
      await form.getByLabel('Check command (optional)').first().fill(sumCheck);
      await form.getByLabel(/^Model/).fill(agent.id);
      await form.getByLabel('Steps').fill('10');
      await form.getByRole('button', { name: 'Create ticket' }).click();
      const card = page.locator('[data-ticket]', { hasText: 'Make sum add' });
      await card.waitFor();
      const [created] = await e2e.alice.tickets.list();
      assert.equal(created?.title, 'Make sum add');
      assert.equal(created?.status, 'draft');
      assert.deepEqual(
        created?.criteria.map((criterion) => [criterion.text, criterion.check]),
        [['sum(2, 3) is 5', sumCheck]],
      );
      const id = created.id;

      // Its page, before anything ran: nothing the agent will print is there yet.
      await card.getByRole('link', { name: 'Make sum add' }).click();
      await page.waitForURL(`${e2e.server.url}/tickets/${id}`);
      const events = page.getByTestId('ticket-events');
      await page.getByRole('button', { name: 'Start run' }).waitFor();
      assert.doesNotMatch((await events.textContent()) ?? '', /AFTER-START-42/);

      // Started here; the command's output and the check arrive on the open page.
      await page.getByRole('button', { name: 'Start run' }).click();
      await events.getByText('AFTER-START-42').first().waitFor({ timeout: longWaitMs });
      await events.locator('.event-check .badge', { hasText: 'met' }).waitFor({
        timeout: longWaitMs,
      });
      await page.locator('.ticket-header .badge', { hasText: 'awaiting review' }).waitFor({
        timeout: longWaitMs,
      });
      await screenshot(page, 'flow-ticket-finished');

      // The evidence: the platform's verdict, the diff; approved with the button.
      await page.getByRole('link', { name: 'Evidence', exact: true }).click();
      await page.waitForURL(`${e2e.server.url}/tickets/${id}/evidence`);
      await page.getByRole('heading', { name: 'The platform verified' }).waitFor();
      await page.getByText('1 of 1 criteria met').first().waitFor();
      await page.locator('.diff-file', { hasText: 'sum.js' }).first().waitFor();
      await page.getByRole('button', { name: 'Approve…' }).click();
      await page.getByRole('button', { name: 'Confirm: approve' }).click();
      const approved = page.getByRole('status').filter({ hasText: 'Approved' });
      await approved.getByText(`mags/${id}`).waitFor({ timeout: longWaitMs });
      await screenshot(page, 'flow-evidence-approved');

      const ticket = await e2e.alice.tickets.get(id);
      assert.equal(ticket.status, 'approved');
      assert.equal(ticket.branch, `mags/${id}`);
      assert.deepEqual(watched.problems, []);
    } finally {
      await context.close();
    }
  });
});
