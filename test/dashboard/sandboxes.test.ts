/**
 * The sandboxes pages in a real browser against a real server on the namespace runtime: the
 * list, a sandbox's terminal (xterm.js over the shell WebSocket: a command's output, Ctrl-C, a
 * resize the shell sees), its files (upload read back through the SDK, download with the same
 * bytes, listings that make no jobs), the list live (changes made through the SDK show without a
 * reload), and another owner's sandbox refused. No page error, CSP violation or foreign request.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
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
if (skip) process.stdout.write(`# skipping dashboard sandboxes tests: ${skip}\n`);

/** What the terminal shows: the rows of xterm's DOM renderer (spaces come as no-break spaces). */
const terminalText = async (page: Page) =>
  (
    (await page.evaluate(
      `document.querySelector('.terminal .xterm-rows')?.innerText ?? ''`,
    )) as string
  ).replaceAll('\u00a0', ' ');

/**
 * Waits until a row of the terminal matches `pattern` (a locator, not waitForFunction: the
 * page's CSP forbids the eval that one needs).
 */
async function waitForTerminal(page: Page, pattern: RegExp): Promise<string> {
  await page.locator('.terminal .xterm-rows > div').filter({ hasText: pattern }).first().waitFor();
  return terminalText(page);
}

/** Whether the keys go to the shell: xterm's hidden textarea has the focus. */
const inTerminal = async (page: Page) =>
  (await page.evaluate(
    `document.activeElement?.classList.contains('xterm-helper-textarea') ?? false`,
  )) as boolean;

/** The focused element's accessible name as far as these tests need it (label, else text). */
const focusedName = async (page: Page) =>
  (await page.evaluate(`(() => {
    const element = document.activeElement;
    if (!element) return '';
    if (element.classList.contains('xterm-helper-textarea')) return 'xterm';
    return (element.getAttribute('aria-label') ?? element.textContent ?? '').trim();
  })()`)) as string;

/** Presses `key` until the focused element's name matches; returns the names passed on the way. */
async function tabUntil(page: Page, key: string, name: RegExp): Promise<string[]> {
  const passed: string[] = [];
  for (let step = 0; step < 40; step++) {
    await page.keyboard.press(key);
    const now = await focusedName(page);
    if (name.test(now)) return passed;
    passed.push(now);
  }
  throw new Error(`${key} never reached ${name}: ${passed.join(', ')}`);
}

/** Reads `value` until `done` holds (a colour repainted, a refit), for at most ten seconds. */
async function until<T>(value: () => Promise<T>, done: (now: T) => boolean): Promise<T> {
  let now = await value();
  for (let step = 0; step < 100 && !done(now); step++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    now = await value();
  }
  return now;
}

async function typeLine(page: Page, line: string): Promise<void> {
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

describe('dashboard sandboxes', { skip, timeout: 300_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: { token: string; mags: Mags };
  const sandbox = 'dev';
  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    browser = await launchBrowser();
    alice = await server.client('alice');
    await alice.mags.sandboxes.create({ name: sandbox });
  });
  after(async () => {
    await browser?.close();
    await alice?.mags.sandboxes.delete(sandbox).catch(() => {});
    await server?.close();
  });

  test('the list shows the sandbox with its status and workspace, without serious axe findings', async () => {
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, alice.token);
    await page.getByRole('link', { name: 'Sandboxes' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: sandbox }) });
    await row.getByText('running').waitFor();
    assert.match(await row.innerText(), /dev[\s\S]*running[\s\S]*dev/);

    // Live (sandboxes.follow): what the SDK does while the page is open shows without a reload.
    await alice.mags.sandboxes.stop(sandbox);
    await row.getByText('stopped', { exact: true }).waitFor();
    await alice.mags.sandboxes.start(sandbox);
    await row.getByText('running', { exact: true }).waitFor();
    await alice.mags.sandboxes.create({ name: 'from-sdk', ephemeral: true });
    const fromSdk = page
      .getByRole('row')
      .filter({ has: page.getByRole('link', { name: 'from-sdk' }) });
    await fromSdk.getByText('running', { exact: true }).waitFor();
    await alice.mags.sandboxes.delete('from-sdk');
    await fromSdk.waitFor({ state: 'detached' });
    assert.deepEqual(await seriousAccessibilityViolations(page), []);
    await screenshot(page, 'sandboxes-list-1280');

    // Create through the form, stop, start again, delete (two steps, no browser dialog).
    // An empty name is no name: the placeholder says it is an example, not a default.
    assert.match(
      String(await page.getByLabel('Name', { exact: true }).getAttribute('placeholder')),
      /^e\.g\. /,
    );
    assert.equal(await page.getByRole('button', { name: 'Create' }).isDisabled(), true);
    await page.getByLabel('Name', { exact: true }).fill('made-here');
    await page.getByLabel('Network (egress only)').check();
    await page.getByRole('button', { name: 'Create' }).click();
    const made = page
      .getByRole('row')
      .filter({ has: page.getByRole('link', { name: 'made-here' }) });
    await made.getByText('running', { exact: true }).waitFor();
    assert.equal((await alice.mags.sandboxes.get('made-here')).status, 'running');
    await made.getByRole('button', { name: 'Stop made-here' }).click();
    await made.getByText('stopped', { exact: true }).waitFor();
    await made.getByRole('button', { name: 'Start made-here' }).click();
    await made.getByText('running', { exact: true }).waitFor();
    await made.getByRole('button', { name: 'Delete made-here' }).click();
    await made.getByRole('button', { name: 'Delete made-here, keep its workspace' }).click();
    await made.waitFor({ state: 'detached' });
    assert.deepEqual(
      (await alice.mags.sandboxes.list()).map((item) => item.name),
      [sandbox],
    );
    await page.setViewportSize(viewports.phone);
    await screenshot(page, 'sandboxes-list-390');
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('terminal: a command, Ctrl-C, and a resize the shell sees', async () => {
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, alice.token);
    await page.goto(`${server.url}/sandboxes/${sandbox}`);
    await page.getByRole('status').getByText('Connected').waitFor();
    // The shell's prompt: something arrived from the sandbox before anything is typed.
    await waitForTerminal(page, /\S/);
    await page.locator('.terminal .xterm').click();

    await typeLine(page, 'echo $((6*7))');
    await waitForTerminal(page, /^42\s*$/);

    // Ctrl-C reaches the shell as 0x03: the sleep ends at once and the next command runs.
    // The line's echo comes back once the shell runs it: the sleep is starting as it shows.
    await typeLine(page, 'echo sleeping-$((1+1)); sleep 100');
    await waitForTerminal(page, /^sleeping-2\s*$/);
    await page.keyboard.press('Control+C');
    await typeLine(page, 'echo after-$((40+2))-interrupt');
    assert.match(await waitForTerminal(page, /^after-42-interrupt\s*$/), /\^C/);

    await typeLine(page, "echo first-$(stty size | tr ' ' x)");
    const first = /^first-(\d+)x(\d+)\s*$/m.exec(await waitForTerminal(page, /^first-\d+x\d+/));
    await screenshot(page, 'sandbox-terminal-1280');
    await page.setViewportSize(viewports.phone);
    await page.locator('.terminal .xterm').click();
    await typeLine(page, "echo second-$(stty size | tr ' ' x)");
    const second = /^second-(\d+)x(\d+)\s*$/m.exec(await waitForTerminal(page, /^second-\d+x\d+/));
    assert.ok(first && second);
    assert.ok(
      Number(second[2]) < Number(first[2]),
      `a narrower terminal has fewer columns: ${first[0]} then ${second[0]}`,
    );
    await screenshot(page, 'sandbox-terminal-390');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'sandbox-terminal-390-dark');
    // The token went only as the WebSocket's subprotocol: no URL the page asked for holds it.
    for (const url of watched.requests) assert.ok(!url.includes(alice.token), `token in ${url}`);
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('terminal by keyboard: in with Tab and Enter, out with Ctrl+], no keyboard trap', async () => {
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, alice.token);
    await page.goto(`${server.url}/sandboxes/${sandbox}`);
    await page.getByRole('status').getByText('Connected').waitFor();
    await waitForTerminal(page, /\S/);
    // Connecting took no focus: the keys are not the shell's until the person says so.
    assert.equal(await inTerminal(page), false);

    // From the page's header, Tab by Tab: past Stop, to the terminal's button, never into xterm.
    await page
      .getByRole('navigation', { name: 'Sections' })
      .getByRole('link', { name: 'Sandboxes' })
      .focus();
    const passed = await tabUntil(page, 'Tab', /^Type in the terminal$/);
    assert.ok(passed.includes(`Stop ${sandbox}`), `Tab went through ${passed.join(', ')}`);
    const describedBy = await page.evaluate(
      `document.getElementById(document.activeElement.getAttribute('aria-describedby'))?.textContent`,
    );
    assert.match(String(describedBy), /Ctrl\s*\+\s*\] to leave the terminal/);

    await page.keyboard.press('Enter');
    assert.equal(await inTerminal(page), true);
    const hint = await page.evaluate(
      `document.getElementById(document.activeElement.getAttribute('aria-describedby'))?.textContent`,
    );
    assert.match(String(hint), /Keys go to the shell/);
    await typeLine(page, 'echo keyboard-$((6*7))');
    await waitForTerminal(page, /^keyboard-42\s*$/);

    // Ctrl+] leaves; Shift+Tab then reaches Stop, Tab the files, without falling back in.
    await page.keyboard.press('Control+BracketRight');
    assert.equal(await inTerminal(page), false);
    assert.equal(await focusedName(page), 'Type in the terminal');
    const backwards = await tabUntil(page, 'Shift+Tab', new RegExp(`^Stop ${sandbox}$`));
    assert.ok(!backwards.includes('xterm'), `Shift+Tab went through ${backwards.join(', ')}`);
    await page.getByRole('button', { name: 'Type in the terminal' }).focus();
    const forwards = await tabUntil(page, 'Tab', /^Refresh$/);
    assert.ok(!forwards.includes('xterm'), `Tab went through ${forwards.join(', ')}`);
    // The Ctrl+] reached no shell: the line typed next runs as it is.
    await page.getByRole('button', { name: 'Type in the terminal' }).click();
    await typeLine(page, 'echo still-$((1+1))');
    await waitForTerminal(page, /^still-2\s*$/);
    assert.deepEqual(await seriousAccessibilityViolations(page), []);
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test("terminal: the job logs' ANSI colours, following the theme; no row cut off", async () => {
    const context = await browser.newContext({ viewport: viewports.desktop, colorScheme: 'light' });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, alice.token);
    await page.goto(`${server.url}/sandboxes/${sandbox}`);
    await page.getByRole('status').getByText('Connected').waitFor();
    await waitForTerminal(page, /\S/);
    await page.getByRole('button', { name: 'Type in the terminal' }).click();
    // The echoed command line holds the $((…)); only the output says "colour-2red".
    await typeLine(page, `printf '\\033[31m%s\\033[0m\\n' colour-$((1+1))red`);
    await waitForTerminal(page, /^colour-2red\s*$/);
    const colours = async () =>
      JSON.parse(
        (await page.evaluate(`(() => {
          const span = [...document.querySelectorAll('.terminal .xterm-rows span')]
            .find((each) => each.textContent.includes('colour-2red'));
          const probe = document.createElement('span');
          probe.style.color = 'var(--ansi-red)';
          document.body.append(probe);
          const variable = getComputedStyle(probe).color;
          probe.remove();
          return JSON.stringify({ shown: span ? getComputedStyle(span).color : '', variable });
        })()`)) as string,
      ) as { shown: string; variable: string };
    const light = await colours();
    assert.equal(light.shown, light.variable);
    // 24-bit colour and lifted contrast are drawn with style attributes: the page's policy
    // allows those (and nothing else inline), so no violation is logged.
    await typeLine(page, `printf '\\033[38;2;10;200;30m%s\\033[0m\\n' true-$((2+1))colour`);
    await waitForTerminal(page, /^true-3colour\s*$/);
    await screenshot(page, 'sandbox-terminal-colours-1280-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await until(colours, (now) => now.shown !== light.shown);
    assert.equal(dark.shown, dark.variable);
    assert.notEqual(dark.variable, light.variable);

    // Every row whole inside the box, at both widths, once fonts and layout have settled.
    for (const viewport of [viewports.desktop, viewports.phone]) {
      await page.setViewportSize(viewport);
      await page.evaluate('document.fonts.ready.then(() => true)');
      const overflowPixels = await until(
        async () =>
          (await page.evaluate(`(() => {
            const box = document.querySelector('.terminal-box');
            const screen = box.querySelector('.xterm-screen');
            const style = getComputedStyle(box);
            const inner = box.getBoundingClientRect().bottom - parseFloat(style.borderBottomWidth) -
              parseFloat(style.paddingBottom);
            return screen.getBoundingClientRect().bottom - inner;
          })()`)) as number,
        (pixels) => pixels <= 0.5,
      );
      assert.ok(overflowPixels <= 0.5, `the last row is cut by ${overflowPixels}px`);
      await screenshot(page, `sandbox-terminal-rows-${viewport.width}-dark`);
    }
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test("terminal: a dropped connection said from the person's side, a server error as sent", async () => {
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    // The shell's socket answered here, as a server would that then goes away.
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(/\/shell/, (socket) => {
      sockets.push(socket);
    });
    await signIn(page, server.url, alice.token);
    await page.goto(`${server.url}/sandboxes/${sandbox}`);
    await page.getByRole('status').getByText('Connected').waitFor();
    await sockets[0]?.close({ code: 1001, reason: 'server shutting down' });
    await page
      .getByRole('status')
      .getByText(
        'The connection to the server closed (the server stopped or the network dropped). Reconnect when it is back.',
      )
      .waitFor();
    await page.getByRole('button', { name: 'Reconnect' }).click();
    await page.getByRole('status').getByText('Connected').waitFor();
    assert.equal(await focusedName(page), 'Type in the terminal');
    sockets[1]?.send(
      JSON.stringify({ type: 'error', message: 'MagsError: The shell could not start.' }),
    );
    await sockets[1]?.close({ code: 1011, reason: 'shell failed' });
    await page
      .getByRole('status')
      .getByText('The shell could not start.', { exact: true })
      .waitFor();
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('files: an upload read back through the SDK, a download with the same bytes', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 0x0a, 0x68, 0x69]);
    await alice.mags.sandboxes.files.write(sandbox, '/workspace/data.bin', bytes);
    const context = await browser.newContext({
      viewport: viewports.desktop,
      acceptDownloads: true,
    });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, alice.token);
    await page.goto(`${server.url}/sandboxes/${sandbox}`);
    const downloadButton = page.getByRole('button', { name: 'Download data.bin' });
    await downloadButton.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), downloadButton.click()]);
    assert.equal(download.suggestedFilename(), 'data.bin');
    assert.deepEqual(await readFile(await download.path()), bytes);

    await page.locator('input[type=file]').setInputFiles({
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('uploaded from the dashboard\n'),
    });
    await page.getByRole('button', { name: 'Download notes.txt' }).waitFor();
    assert.equal(
      Buffer.from(
        await alice.mags.sandboxes.files.read(sandbox, '/workspace/notes.txt'),
      ).toString(),
      'uploaded from the dashboard\n',
    );

    // Into a directory and back up.
    await alice.mags.sandboxes.execAndWait(
      sandbox,
      'mkdir -p /workspace/sub && echo x > /workspace/sub/inner.txt',
    );
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: 'sub/' }).click();
    await page.getByRole('button', { name: 'Download inner.txt' }).waitFor();
    await page.getByRole('button', { name: 'Up to the parent directory' }).click();
    await page.getByRole('button', { name: 'Download notes.txt' }).waitFor();

    // Names are text, whatever they hold; a symlink shows its target.
    await alice.mags.sandboxes.execAndWait(sandbox, [
      'sh',
      '-c',
      "touch '/workspace/two\nlines' && ln -sf notes.txt /workspace/shortcut",
    ]);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByText('link to notes.txt').waitFor();
    assert.match(await page.locator('.file-list').innerText(), /two\\nlines/);
    await page.locator('.file-browser').scrollIntoViewIfNeeded();
    await screenshot(page, 'sandbox-files-1280');
    await page.setViewportSize(viewports.phone);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.locator('.file-browser').scrollIntoViewIfNeeded();
    await screenshot(page, 'sandbox-files-390-dark');
    // Listings are read in the sandbox, not run as jobs: none shows among the owner's jobs.
    const { jobs } = await alice.mags.jobs.list({ limit: 500 });
    assert.deepEqual(
      jobs.filter((job) => job.command[0] === 'find'),
      [],
    );
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    await page.locator('.job-list, .muted').first().waitFor();
    assert.doesNotMatch(await page.locator('main').innerText(), /find \//);
    for (const url of watched.requests) assert.ok(!url.includes(alice.token), `token in ${url}`);
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test("bob cannot open alice's sandbox: an error, no terminal", async () => {
    const bob = await server.client('bob');
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, bob.token);
    await page.goto(`${server.url}/sandboxes/${sandbox}`);
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /not found|no sandbox/i);
    assert.equal(await page.locator('.xterm').count(), 0);
    await page.goto(`${server.url}/sandboxes`);
    await page.getByText('No sandboxes yet').waitFor();
    // The 404 of alice's sandbox is the one console error a browser logs here.
    assert.deepEqual(
      watched.problems.filter((problem) => !/404/.test(problem)),
      [],
    );
    await context.close();
  });
});
