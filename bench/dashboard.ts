/**
 * `npm run bench dashboard` (issue 14): on a real server in headless Chromium, for the
 * dashboard's ticket page and for an empty-bundle page doing the same stream-follow
 * (`dashboard-empty-page.ts`), in the same run:
 * - the time from opening the ticket page to its first event on screen;
 * - event latency, server store (the event's `at`) → DOM insertion (a MutationObserver in the
 *   page, performance.timeOrigin + now: the same machine clock), and → on screen (the first
 *   animation frame after the insertion, when the browser paints it), with 100 events/s
 *   appended through the ticket manager's real event path (comments: stored, then streamed).
 *   The ticket page inserts events once per frame, so it loses to the empty page on insertion
 *   by design; on screen, both wait for the same paint;
 * - each page's first-load JavaScript, gzip and brotli (`dashboard-sizes.ts`).
 */
import type { Browser } from 'playwright-core';
import { ticketRecord } from '../src/state/record-fixtures.ts';
import { browserSkipReason, launchBrowser } from '../test/helpers/browser.ts';
import { startTestServer, type TestServer } from '../test/helpers/test-server.ts';
import { emptyPageHtml, emptyPageSize } from './dashboard-empty-page.ts';
import { dashboardPageSizes } from './dashboard-sizes.ts';
import { printRows, printTable, type Summary, summarize } from './stats.ts';

const opens = 5;
const eventCount = 200;
const eventIntervalMs = 10;
const eventSelector = '[data-testid=ticket-events] [data-event-id]';

export async function dashboardBenchmark(): Promise<void> {
  const skip = browserSkipReason();
  if (skip) {
    process.stdout.write(`\n## dashboard\n\nskipped: ${skip}\n`);
    return;
  }
  await printSizes();
  const server = await startTestServer({ scheduling: { poolSize: 0 } });
  const browser = await launchBrowser();
  try {
    const { token } = await server.client('bench');
    const variants = [
      { name: 'dashboard', path: (id: string) => `/tickets/${id}` },
      { name: 'empty bundle', path: (id: string) => `/bench-empty/${id}` },
    ];
    const rows: Array<{ summary: Summary; floor?: Summary }> = [];
    const results = [];
    for (const variant of variants) {
      results.push(await measureVariant(server, browser, token, variant));
    }
    const [dashboard, empty] = results;
    if (!dashboard || !empty) return;
    // A measurement with no samples (the ticket page not built) is left out and noted below.
    const pairs = [
      [empty.open, dashboard.open],
      [empty.latency, dashboard.latency],
      [empty.paint, dashboard.paint],
    ] as const;
    for (const [floor, summary] of pairs) {
      rows.push({ summary: floor });
      if (summary.samples > 0) rows.push({ summary, floor });
    }
    printTable(
      'dashboard: ticket page open → first event, and event latency server → DOM / screen',
      rows,
    );
    for (const note of [...dashboard.notes, ...empty.notes]) process.stdout.write(`${note}\n`);
  } finally {
    await browser.close();
    await server.close();
  }
}

async function printSizes(): Promise<void> {
  const empty = emptyPageSize();
  const kib = (bytes: number) => (bytes / 1024).toFixed(1);
  const rows = [
    [
      'empty bundle (baseline)',
      '1',
      kib(empty.rawBytes),
      kib(empty.gzipBytes),
      kib(empty.brotliBytes),
      '1.0×',
    ],
  ];
  for (const size of await dashboardPageSizes()) {
    rows.push([
      size.page,
      String(size.files),
      kib(size.rawBytes),
      kib(size.gzipBytes),
      kib(size.brotliBytes),
      `${(size.brotliBytes / empty.brotliBytes).toFixed(0)}×`,
    ]);
  }
  printRows(
    'dashboard: first-load JavaScript per page (main + page chunk + static imports)',
    ['page', 'files', 'raw KiB', 'gzip KiB', 'brotli KiB', 'brotli vs empty'],
    rows,
  );
}

/** A ticket that is running as far as its followers know: its stream stays open. */
async function runningTicket(server: TestServer): Promise<string> {
  const id = `tkt_bench${Math.random().toString(36).slice(2, 12)}`;
  await server.server.services.repository.insertTicket(
    ticketRecord(id, 'bench', 'app', { status: 'running', attempt: 1 }),
  );
  await comment(server, id, 'first event');
  return id;
}

const comment = (server: TestServer, id: string, text: string) =>
  server.server.services.tickets.comment('bench', id, { author: 'bench', text });

async function measureVariant(
  server: TestServer,
  browser: Browser,
  token: string,
  variant: { name: string; path: (id: string) => string },
) {
  const notes: string[] = [];
  const context = await browser.newContext();
  await context.addInitScript(`sessionStorage.setItem('mags.token', ${JSON.stringify(token)})`);
  await context.route(/\/bench-empty\//, (route) => {
    const id = new URL(route.request().url()).pathname.split('/').pop() ?? '';
    return route.fulfill({ contentType: 'text/html', body: emptyPageHtml(id) });
  });
  const openMs: number[] = [];
  let latency = { inserted: [] as number[], painted: [] as number[] };
  try {
    for (let index = 0; index < opens; index++) {
      const id = await runningTicket(server);
      const page = await context.newPage();
      const startedAt = Date.now();
      await page.goto(`${server.url}${variant.path(id)}`);
      const shown = await page
        .waitForSelector(eventSelector, { timeout: 15_000 })
        .then(() => true)
        .catch(() => false);
      if (!shown) {
        notes.push(`${variant.name}: no ${eventSelector} within 15 s (is the ticket page built?)`);
        await page.close();
        break;
      }
      openMs.push(Date.now() - startedAt);
      if (index === opens - 1) latency = await eventLatencies(server, page, id);
      await page.close();
    }
  } finally {
    await context.close();
  }
  return {
    open: summarize(`${variant.name}: open → first event`, openMs),
    latency: summarize(
      `${variant.name}: event server → DOM (${1000 / eventIntervalMs}/s)`,
      latency.inserted,
    ),
    paint: summarize(
      `${variant.name}: event server → screen (${1000 / eventIntervalMs}/s)`,
      latency.painted,
    ),
    notes,
  };
}

/** Appends `eventCount` events at 100/s; each one's store → DOM and store → screen times. */
async function eventLatencies(
  server: TestServer,
  page: import('playwright-core').Page,
  id: string,
): Promise<{ inserted: number[]; painted: number[] }> {
  await page.evaluate(`(() => {
    window.__insertedAt = {};
    window.__paintedAt = {};
    let unpainted = [];
    const painted = () => {
      const now = performance.timeOrigin + performance.now();
      for (const id of unpainted) window.__paintedAt[id] = now;
      unpainted = [];
    };
    const note = (node) => {
      if (node.nodeType !== 1) return;
      const now = performance.timeOrigin + performance.now();
      const all = node.matches('[data-event-id]') ? [node] : [];
      for (const element of [...all, ...node.querySelectorAll('[data-event-id]')]) {
        const id = element.getAttribute('data-event-id');
        if (id in window.__insertedAt) continue;
        window.__insertedAt[id] = now;
        if (unpainted.length === 0) requestAnimationFrame(painted);
        unpainted.push(id);
      }
    };
    new MutationObserver((records) => {
      for (const record of records) for (const node of record.addedNodes) note(node);
    }).observe(document.body, { childList: true, subtree: true });
  })()`);
  const storedAt = new Map<number, number>();
  const appends: Promise<unknown>[] = [];
  for (let index = 0; index < eventCount; index++) {
    appends.push(
      comment(server, id, `event ${index}`).then((event) =>
        storedAt.set(event.id, Date.parse(event.at)),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, eventIntervalMs));
  }
  await Promise.all(appends);
  const lastId = Math.max(...storedAt.keys());
  await page
    .waitForSelector(`[data-event-id="${lastId}"]`, { timeout: 15_000 })
    .catch(() => undefined);
  const since = async (variable: string) => {
    const at = (await page.evaluate(variable)) as Record<string, number>;
    return [...storedAt]
      .filter(([eventId]) => at[eventId] !== undefined)
      .map(([eventId, atMs]) => (at[eventId] ?? atMs) - atMs);
  };
  return {
    inserted: await since('window.__insertedAt'),
    painted: await since('window.__paintedAt'),
  };
}
