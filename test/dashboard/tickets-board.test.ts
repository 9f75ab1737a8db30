/**
 * The tickets board in a real browser (headless Chromium) against a real server with scripted
 * models: alice's tickets in the column of their status, a card that moves columns live when its
 * status changes through the API, the project, role and model filters kept in the URL, a ticket
 * made through the form (and a field the API refuses shown beside it), start and stop from a
 * card, and bob, signed in, seeing none of alice's tickets. Screenshots at both widths; no
 * serious axe violations.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  browserSkipReason,
  launchBrowser,
  screenshot,
  seriousAccessibilityViolations,
  signIn,
  viewports,
  watchPage,
} from '../helpers/browser.ts';
import { call, type EndToEndServer, startEndToEndServer } from '../helpers/end-to-end-tickets.ts';
import { projectRecord } from '../helpers/project-record.ts';
import { sandboxSkipReason } from '../helpers/test-home.ts';

const skip = browserSkipReason() ?? sandboxSkipReason();
if (skip) process.stdout.write(`# skipping tickets board tests: ${skip}\n`);

/** A draft (nothing runs): what most of these tests need. */
const draft = (title: string, project = 'calc') => ({
  project,
  title,
  request: `${title}: the request.`,
  criteria: [{ text: 'it works' }],
  model: 'ollama:qwen3',
});

const card = (page: Page, status: string, id: string) =>
  page.locator(`.board-column[data-status="${status}"] [data-ticket="${id}"]`);

/**
 * Waits until the page's expression gives `expected` (evaluated through the DevTools protocol:
 * the page's CSP forbids `waitForFunction`'s eval of a string), for at most ten seconds.
 */
async function focusComesTo(page: Page, expression: string, expected: string): Promise<void> {
  let found: unknown;
  for (let attempt = 0; attempt < 100; attempt++) {
    found = await page.evaluate(expression);
    if (found === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(found, expected, `the focus did not come to ${expected}`);
}

describe('tickets board', { skip }, () => {
  let e2e: EndToEndServer;
  let browser: Browser;
  let aliceToken: string;
  let bobToken: string;
  before(async () => {
    e2e = await startEndToEndServer();
    aliceToken = e2e.aliceToken;
    bobToken = (await e2e.server.client('bob')).token;
    // A second project of alice's, stored without an import: its drafts never run.
    await e2e.server.server.services.repository.insertProject(
      projectRecord('docs', { owner: 'alice' }),
    );
    await e2e.server.server.services.repository.insertProject(
      projectRecord('notes', { owner: 'bob' }),
    );
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await e2e?.close();
  });

  async function openBoard(token: string, viewport: { width: number; height: number }) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const watched = watchPage(page, e2e.server.url);
    await signIn(page, e2e.server.url, token);
    return { context, page, watched };
  }

  test('alice’s tickets sit in their status columns and move live when one changes', async () => {
    const open = await e2e.alice.tickets.create(draft('Write the docs'));
    const closed = await e2e.alice.tickets.create(draft('An old idea'));
    await e2e.alice.tickets.close(closed.id);
    for (const [name, viewport] of [
      ['desktop', viewports.desktop],
      ['phone', viewports.phone],
    ] as const) {
      const { context, page, watched } = await openBoard(aliceToken, viewport);
      await card(page, 'draft', open.id).getByText('Write the docs').waitFor();
      await card(page, 'closed', closed.id).waitFor();
      const text = (await card(page, 'draft', open.id).textContent()) ?? '';
      assert.match(text, /calc/);
      assert.match(text, /ollama:qwen3/);
      assert.match(text, /\$0/);
      assert.equal(
        await card(page, 'draft', open.id).getByRole('link').getAttribute('href'),
        `/tickets/${open.id}`,
      );
      await screenshot(page, `board-${name}`);
      assert.deepEqual(await seriousAccessibilityViolations(page), []);
      assert.deepEqual(watched.problems, []);
      await context.close();
    }

    // Changed through the API while the page is open: the card moves without a reload.
    const { context, page, watched } = await openBoard(aliceToken, viewports.desktop);
    await card(page, 'draft', open.id).waitFor();
    await page.evaluate('window.boardMarker = "not reloaded"');
    await e2e.alice.tickets.close(open.id);
    await card(page, 'closed', open.id).waitFor();
    assert.equal(await card(page, 'draft', open.id).count(), 0);
    assert.equal(await page.evaluate('window.boardMarker'), 'not reloaded');
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('the project filter is kept in the URL and shows only that project’s tickets', async () => {
    const docs = await e2e.alice.tickets.create(draft('Docs ticket', 'docs'));
    const calc = await e2e.alice.tickets.create(draft('Calc ticket'));
    const { context, page, watched } = await openBoard(aliceToken, viewports.desktop);
    await card(page, 'draft', calc.id).waitFor();
    await page.getByLabel('Project').selectOption('docs');
    await page.waitForURL(`${e2e.server.url}/tickets?project=docs`);
    await card(page, 'draft', docs.id).waitFor();
    assert.equal(await card(page, 'draft', calc.id).count(), 0);
    // A shared link opens the same filtered board.
    await page.goto(`${e2e.server.url}/tickets?project=calc`);
    await card(page, 'draft', calc.id).waitFor();
    assert.equal(await card(page, 'draft', docs.id).count(), 0);
    assert.equal(await page.getByLabel('Project').inputValue(), 'calc');
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('the role and model filters are kept in the URL and combine with the project', async () => {
    const calc = await e2e.alice.tickets.create(draft('Developer ticket'));
    const tester = await e2e.alice.tickets.create({ ...draft('Tester ticket'), role: 'tester' });
    const otherModel = await e2e.alice.tickets.create({
      ...draft('Other model ticket'),
      model: 'ollama:other-model',
    });
    assert.notEqual(calc.role, 'tester');
    const { context, page, watched } = await openBoard(aliceToken, viewports.desktop);
    await card(page, 'draft', otherModel.id).waitFor();

    await page.getByLabel('Role', { exact: true }).selectOption('tester');
    await page.waitForURL(`${e2e.server.url}/tickets?role=tester`);
    await card(page, 'draft', tester.id).waitFor();
    assert.equal(await card(page, 'draft', calc.id).count(), 0);
    assert.equal(await card(page, 'draft', otherModel.id).count(), 0);

    await page.getByLabel('Role', { exact: true }).selectOption('');
    await page.getByLabel('Model', { exact: true }).selectOption('ollama:other-model');
    await page.waitForURL(`${e2e.server.url}/tickets?model=ollama%3Aother-model`);
    await card(page, 'draft', otherModel.id).waitFor();
    assert.equal(await card(page, 'draft', calc.id).count(), 0);
    assert.equal(await card(page, 'draft', tester.id).count(), 0);

    // All three at once, from a shared link: only the ticket matching every one.
    await page.goto(
      `${e2e.server.url}/tickets?project=calc&role=${calc.role}&model=ollama%3Aqwen3`,
    );
    await card(page, 'draft', calc.id).waitFor();
    assert.equal(await card(page, 'draft', tester.id).count(), 0);
    assert.equal(await card(page, 'draft', otherModel.id).count(), 0);
    assert.equal(await page.getByLabel('Role', { exact: true }).inputValue(), calc.role);
    assert.equal(await page.getByLabel('Model', { exact: true }).inputValue(), 'ollama:qwen3');
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('a ticket made through the form appears on the board and exists in the API', async () => {
    const { context, page, watched } = await openBoard(aliceToken, viewports.desktop);
    // Opened with the keyboard, the form has the focus (its first field), not the page's body.
    await page.getByRole('button', { name: 'New ticket' }).focus();
    await page.keyboard.press('Enter');
    const form = page.locator('form.create-ticket');
    await focusComesTo(page, `document.activeElement?.id ?? ''`, 'ticket-project');
    // The model is not optional when nothing sets a default: the label says so.
    await form.getByLabel('Model (required unless the role or the server').waitFor();
    await form.getByLabel('Project').selectOption('calc');
    // Refused by the API: the empty title is named beside its field.
    await form.getByLabel('Request').fill('Make sum add.');
    await form.getByLabel('Criterion 1', { exact: true }).fill('sum(2, 3) is 5');
    await form.getByRole('button', { name: 'Create ticket' }).click();
    await form.locator('#error-title').waitFor();
    // Zod's "Too small: expected string to have >=1 characters" in plain words.
    assert.equal(await form.locator('#error-title').textContent(), 'Required');
    assert.equal(await form.getByLabel('Title').getAttribute('aria-invalid'), 'true');

    await form.getByLabel('Title').fill('Made in the browser');
    await form.getByRole('button', { name: 'Add criterion' }).click();
    await form.getByLabel('Criterion 2', { exact: true }).fill('tests pass');
    await form.getByLabel('Check command (optional)').nth(1).fill('npm test');
    await form.getByLabel(/^Model/).fill('ollama:qwen3');
    await form.getByLabel('Steps').fill('7');
    await form.getByLabel('Wall time (minutes)').fill('5');
    await form.getByRole('button', { name: 'Create ticket' }).click();
    await page.getByRole('status').getByText('Made in the browser').waitFor();
    const made = (await e2e.alice.tickets.list()).find(
      (ticket) => ticket.title === 'Made in the browser',
    );
    assert.ok(made, 'the API lists the ticket made in the form');
    assert.equal(made.status, 'draft');
    assert.deepEqual(made.criteria, [
      { text: 'sum(2, 3) is 5' },
      { text: 'tests pass', check: 'npm test' },
    ]);
    assert.equal(made.budget.maxSteps, 7);
    assert.equal(made.budget.maxWallMs, 300_000);
    await card(page, 'draft', made.id).waitFor();

    // Escape closes the form and gives the focus back to the button that opened it.
    await page.getByRole('button', { name: 'New ticket' }).focus();
    await page.keyboard.press('Enter');
    await focusComesTo(page, `document.activeElement?.id ?? ''`, 'ticket-project');
    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'detached' });
    await focusComesTo(page, `document.activeElement?.textContent ?? ''`, 'New ticket');
    assert.deepEqual(
      watched.problems.filter((problem) => !/400/.test(problem)),
      [],
      'only the refused body’s 400 is logged',
    );
    await context.close();
  });

  test('start and stop from a card', async () => {
    const slow = e2e.model(() => call('run_command', { command: 'sleep 30' }));
    const ticket = await e2e.alice.tickets.create({ ...e2e.body(slow.id), run: false });
    const { context, page, watched } = await openBoard(aliceToken, viewports.desktop);
    await card(page, 'draft', ticket.id).waitFor();
    // The card moves to another column (a new element): the keyboard focus moves with it.
    const focusedTicket = `document.activeElement?.closest('[data-ticket]')?.dataset.ticket ?? null`;
    await page.getByRole('button', { name: `Start ${ticket.title}` }).click();
    await card(page, 'running', ticket.id).waitFor();
    await focusComesTo(page, focusedTicket, ticket.id);
    await page.getByRole('button', { name: `Stop ${ticket.title}` }).click();
    await card(page, 'stopped', ticket.id).waitFor();
    await focusComesTo(page, focusedTicket, ticket.id);
    const stopped = await e2e.alice.tickets.get(ticket.id);
    assert.equal(stopped.status, 'stopped');
    assert.match(stopped.reason ?? '', /stopped by alice/);
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('a stream that fails before its first list shows the error, not an empty board', async () => {
    const { context, page, watched } = await openBoard(aliceToken, viewports.desktop);
    await page.route(/\/v1\/tickets\?.*follow=true/, (route) =>
      route.fulfill({
        status: 500,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'internal', message: 'The list broke.' } }),
      }),
    );
    await page.reload();
    await page.getByRole('alert').getByText('The list broke.').waitFor();
    assert.equal(await page.getByText('No tickets yet').count(), 0);
    assert.equal(await page.getByText('Loading tickets').count(), 0);
    assert.deepEqual(
      watched.problems.filter((problem) => !/500/.test(problem)),
      [],
    );
    await context.close();
  });

  test('bob never sees alice’s tickets', async () => {
    const alices = await e2e.alice.tickets.create(draft('Alice only'));
    const { context, page, watched } = await openBoard(bobToken, viewports.desktop);
    await page.getByText('No tickets yet').waitFor();
    assert.equal(await page.locator('[data-ticket]').count(), 0);
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /Alice only/);
    // A change to alice's ticket while bob watches reaches bob's board neither.
    await e2e.alice.tickets.close(alices.id);
    // Bob's own ticket, made after it, does: by then alice's change would have come first.
    const bobs = await e2e.bob.tickets.create(draft('Bob’s own', 'notes'));
    await card(page, 'draft', bobs.id).waitFor();
    assert.equal(await page.locator('[data-ticket]').count(), 1);
    assert.deepEqual(watched.problems, []);
    await context.close();
  });
});
