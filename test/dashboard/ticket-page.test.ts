/**
 * The live ticket page in a real browser (headless Chromium) against a real server whose agent
 * is a scripted model on the namespace runtime: the page is open on a draft, the run is started
 * from it, and the model's text and its command's output appear as they happen; a comment from
 * the page reaches the running agent and shows as an event; an agent whose text and output hold
 * markup and an OSC 8 link shows them as text (no element, no dialog, no request); ANSI red is a
 * red span. Screenshots at both widths, dark and light; axe finds nothing serious.
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
import {
  call,
  type EndToEndServer,
  finish,
  followTicket,
  startEndToEndServer,
} from '../helpers/end-to-end-tickets.ts';
import { sandboxSkipReason } from '../helpers/test-home.ts';

const skip = browserSkipReason() ?? sandboxSkipReason();
if (skip) process.stdout.write(`# skipping dashboard ticket page tests: ${skip}\n`);

const esc = '\u001b';
const imgMarkup = '<img src=x onerror="alert(1)">';
const scriptMarkup = '<script>alert(2)</script>';
const link = `${esc}]8;;https://evil.example\u0007click-here${esc}]8;;\u0007`;
/** What the agent's command prints: red text, markup, a link escape, a title escape. */
const printed = `${esc}[31mRED-FAILURE${esc}[0m plain\n${imgMarkup} ${scriptMarkup}\n${link}\n${esc}]0;evil title\u0007output-done\n`;
/** `node -e` prints it byte for byte: no shell quoting of escapes and markup to get wrong. */
const printCommand = `node -e "process.stdout.write(Buffer.from('${Buffer.from(printed).toString('base64')}', 'base64').toString())"`;
const modelText = `Looking at sum.js now. ${imgMarkup} ${scriptMarkup} ${link}`;
const comment = 'Keep the other test passing too.';
const longWaitMs = 90_000;

describe('dashboard ticket page', { skip }, () => {
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

  test('events arrive live; a comment steers the agent; agent output is text, ANSI red is red', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const agent = e2e.model(async (index) => {
      if (index === 0)
        return { text: modelText, ...call('run_command', { command: printCommand }) };
      if (index === 1) {
        await released; // the run stays live until the test has looked at it and commented
        return call('edit_file', { path: 'sum.js', oldText: 'a - b', newText: 'a + b' });
      }
      return finish('sum adds now', true);
    });
    const ticket = await e2e.alice.tickets.create(e2e.body(agent.id, { run: false }));
    const context = await browser.newContext({ viewport: viewports.desktop, colorScheme: 'light' });
    const page = await context.newPage();
    const watched = watchPage(page, e2e.server.url);
    try {
      await signIn(page, e2e.server.url, e2e.aliceToken);
      await page.goto(`${e2e.server.url}/tickets/${ticket.id}`);
      const events = page.getByTestId('ticket-events');
      await page.getByRole('heading', { name: 'sum subtracts' }).waitFor();
      await page.getByRole('button', { name: 'Start run' }).waitFor();
      await page.getByText('Not running').waitFor();
      assert.equal(await page.getByText('output-done').count(), 0);

      await page.getByRole('button', { name: 'Start run' }).click();
      // Only the run makes these: the model's text and its command's output, live.
      await events.getByText('Looking at sum.js now.').waitFor({ timeout: longWaitMs });
      const command = events.locator('.event-command');
      await command.getByText('output-done').waitFor({ timeout: longWaitMs });
      await page.getByText('Live', { exact: true }).waitFor();

      // ANSI red is a span with the red class holding the red text.
      const red = command.locator('span.ansi-red');
      assert.equal(await red.count(), 1);
      assert.equal(await red.textContent(), 'RED-FAILURE');

      // Markup and the link escape are text: visible literally, no element made of them.
      for (const row of [command, events.locator('.event-text')]) {
        await row.getByText(imgMarkup).waitFor();
        await row.getByText(scriptMarkup).waitFor();
        await row.getByText('click-here').waitFor();
      }
      const made = await page.evaluate(`(() => {
        const box = document.querySelector('[data-testid="ticket-events"]');
        return {
          images: box.querySelectorAll('img').length,
          scripts: box.querySelectorAll('script').length,
          links: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
          text: box.textContent,
          title: document.title,
        };
      })()`);
      const found = made as {
        images: number;
        scripts: number;
        links: string[];
        text: string;
        title: string;
      };
      assert.equal(found.images, 0);
      assert.equal(found.scripts, 0);
      assert.deepEqual(
        found.links.filter((href) => !href.startsWith('/')),
        [],
        'only in-app links',
      );
      assert.ok(!found.text.includes('evil.example'), 'the OSC 8 target is dropped');
      assert.ok(!found.text.includes('evil title'), 'the title escape is dropped');
      assert.ok(!found.text.includes(esc), 'no escape character left');
      assert.ok(!found.title.includes('evil'));

      // Every event element carries its id, in order.
      const ids = (await page.evaluate(
        `[...document.querySelectorAll('[data-testid="ticket-events"] [data-event-id]')].map((element) => Number(element.dataset.eventId))`,
      )) as number[];
      assert.ok(ids.length >= 5, `ids: ${ids}`);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
      );

      // A comment from the page: the running agent reads it; it shows as a comment event.
      await page.getByLabel('Comment to the agent').fill(comment);
      await page.getByRole('button', { name: 'Send comment' }).click();
      await events.locator('.event-comment').getByText(comment).waitFor();
      assert.equal(await page.getByLabel('Comment to the agent').inputValue(), '');

      // Full-page pictures from the top: the sticky header then sits where it belongs.
      await page.evaluate('window.scrollTo(0, 0)');
      await screenshot(page, 'ticket-desktop');
      assert.deepEqual(await seriousAccessibilityViolations(page), []);
      await page.emulateMedia({ colorScheme: 'dark' });
      await screenshot(page, 'ticket-desktop-dark');
      assert.deepEqual(await seriousAccessibilityViolations(page), []);
      await page.setViewportSize(viewports.phone);
      await screenshot(page, 'ticket-phone-dark');
      await page.emulateMedia({ colorScheme: 'light' });
      await screenshot(page, 'ticket-phone');

      release();
      await page.setViewportSize(viewports.desktop);
      // The fix as a diff, the check met, the evidence linked, cost and steps summed.
      await events.getByText('sum.js').first().waitFor({ timeout: longWaitMs });
      await page.locator('.ticket-header .badge', { hasText: 'awaiting review' }).waitFor({
        timeout: longWaitMs,
      });
      await events.locator('.event-check .badge', { hasText: 'met' }).waitFor();
      await page.locator('.criteria-card .badge', { hasText: 'met' }).waitFor();
      await page.getByRole('link', { name: 'Evidence', exact: true }).waitFor();
      await page.getByText('Not running').waitFor();
      const meters = await page.locator('.ticket-meters').textContent();
      assert.match(meters ?? '', /Steps3/);
      assert.match(meters ?? '', /300 in · 60 out/);
      assert.ok((agent.prompts()[2] ?? '').includes(comment), 'the step after the comment saw it');
      await page.evaluate('window.scrollTo(0, 0)');
      await screenshot(page, 'ticket-desktop-finished');

      assert.deepEqual(watched.problems, []);
      assert.ok(!watched.requests.some((url) => url.includes('evil')), 'no request to evil');
      // `<img src=x>` made an element would load `x` from this origin (the page's own
      // directory): not another origin's request, so looked for here by its path.
      assert.ok(
        !watched.requests.some((url) => new URL(url).pathname.endsWith('/x')),
        'no request for the printed <img src=x>',
      );
    } finally {
      release();
      await context.close();
    }
  });

  test('a finished ticket with a long history: the header never shows an older status or cost', async () => {
    // A dozen steps, each printing 60 KB: the history the page replays spans many frames.
    const bulky = `node -e "for (let i = 0; i < 1500; i++) console.log('line ' + i + ' ' + 'x'.repeat(32))"`;
    const steps = Array.from({ length: 12 }, (_, index) => ({
      text: `Step ${index} of the history.`,
      ...call('run_command', { command: bulky }),
    }));
    const agent = e2e.model([...steps, finish('done', true)]);
    const ticket = await e2e.alice.tickets.create(e2e.body(agent.id));
    await followTicket(e2e.alice, ticket.id);
    const finished = await e2e.alice.tickets.get(ticket.id);
    assert.equal(finished.status, 'awaiting_review');
    const context = await browser.newContext({ viewport: viewports.desktop });
    // Every state of the header from the first render on: its badge, buttons and cost.
    await context.addInitScript(`
      window.headerStates = [];
      window.sawWorking = false;
      new MutationObserver(() => {
        const header = document.querySelector('.ticket-header');
        if (header) {
          const state = JSON.stringify([
            header.querySelector('.badge')?.textContent ?? '',
            [...header.querySelectorAll('button')].map((button) => button.textContent),
            header.querySelector('.ticket-meters dd')?.textContent ?? '',
          ]);
          if (window.headerStates.at(-1) !== state) window.headerStates.push(state);
        }
        if (document.querySelector('.working')) window.sawWorking = true;
      }).observe(document, { subtree: true, childList: true, characterData: true });
    `);
    const page = await context.newPage();
    const watched = watchPage(page, e2e.server.url);
    try {
      await signIn(page, e2e.server.url, e2e.aliceToken);
      // A slow connection (1 MB/s): the history arrives over many frames, as over the internet.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 20,
        downloadThroughput: 1024 * 1024,
        uploadThroughput: 1024 * 1024,
      });
      await page.goto(`${e2e.server.url}/tickets/${ticket.id}`);
      const events = page.getByTestId('ticket-events');
      await events.getByText('Step 11 of the history.').waitFor({ timeout: longWaitMs });
      await events.locator('.event-evidence').waitFor();
      await page.getByText('Not running').waitFor();
      const states = ((await page.evaluate('window.headerStates')) as string[]).map(
        (state) => JSON.parse(state) as [string, string[], string],
      );
      assert.ok(states.length > 0);
      for (const [badge, buttons, cost] of states) {
        assert.equal(badge, 'awaiting review', `header states: ${JSON.stringify(states)}`);
        assert.ok(!buttons.includes('Stop'), `header states: ${JSON.stringify(states)}`);
        assert.equal(cost, states[0]?.[2], `the cost went back: ${JSON.stringify(states)}`);
      }
      assert.equal(await page.evaluate('window.sawWorking'), false, 'never "The agent is working"');
      // A finished ticket opens at its top, not scrolled to its last event.
      assert.ok(
        Number(await page.evaluate('document.documentElement.scrollHeight')) > 2 * 800,
        'the history is taller than the window',
      );
      assert.equal(await page.evaluate('window.scrollY'), 0);
      assert.deepEqual(watched.problems, []);
    } finally {
      await context.close();
    }
  });

  test('a run started elsewhere while the page shows the idle ticket: its events appear', async () => {
    const agent = e2e.model([{ text: 'Started from the CLI.', ...finish('done', true) }]);
    const ticket = await e2e.alice.tickets.create(e2e.body(agent.id, { run: false }));
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, e2e.server.url);
    try {
      await signIn(page, e2e.server.url, e2e.aliceToken);
      await page.goto(`${e2e.server.url}/tickets/${ticket.id}`);
      await page.getByRole('button', { name: 'Start run' }).waitFor();
      await page.getByText('Not running').waitFor();
      await e2e.alice.tickets.run(ticket.id); // as `mags ticket run` does
      const events = page.getByTestId('ticket-events');
      await events.getByText('Started from the CLI.').waitFor({ timeout: longWaitMs });
      await page.locator('.ticket-header .badge', { hasText: 'awaiting review' }).waitFor({
        timeout: longWaitMs,
      });
      await events.locator('.event-evidence').waitFor();
      assert.deepEqual(watched.problems, []);
    } finally {
      await context.close();
    }
  });

  test('a ticket of another owner is not shown', async () => {
    const agent = e2e.model([finish('done', true)]);
    const ticket = await e2e.alice.tickets.create(e2e.body(agent.id, { run: false }));
    const { token } = await e2e.server.client('bob');
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page: Page = await context.newPage();
    try {
      await signIn(page, e2e.server.url, token);
      await page.goto(`${e2e.server.url}/tickets/${ticket.id}`);
      await page.getByRole('alert').waitFor();
      assert.equal(await page.getByText('sum subtracts').count(), 0);
    } finally {
      await context.close();
    }
  });
});
