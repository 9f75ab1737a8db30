/**
 * `npm run bench dashboard` (issue 14): on a real server in headless Chromium, for the
 * dashboard's ticket page and for empty-bundle pages doing the same stream-follow
 * (`dashboard-empty-page.ts`: one appending each event as it arrives, one batching a frame's
 * events as the ticket page does), in the same run:
 * - opening the ticket page → its first event on screen, and where that time goes (navigation
 *   start → main script ran, signed in, page chunk loaded, event stream asked and answered,
 *   first event in the DOM, on screen);
 * - event latency, server store (the event's `at`) → on screen: the event's text painted, as the
 *   Element Timing API reports it (`elementtiming` set on the event's text elements by a
 *   MutationObserver as they are inserted), with 100 events/s appended through the ticket
 *   manager's real event path (comments: stored, then streamed), 3 runs of 200 pooled. Server →
 *   DOM insertion is printed too, as a diagnostic: the ticket page inserts once per frame, right
 *   before that frame's paint, so it loses there by design. Both clocks are the machine's
 *   (`performance.timeOrigin` + page time), and Chromium reports paint times in 4 ms steps;
 * - each page's first-load JavaScript, and what it fetches when opened (`dashboard-sizes.ts`).
 */
import type { Browser, Page } from 'playwright-core';
import { evidenceRecord, ticketRecord } from '../src/state/record-fixtures.ts';
import { browserSkipReason, launchBrowser } from '../test/helpers/browser.ts';
import { startTestServer, type TestServer } from '../test/helpers/test-server.ts';
import { emptyPageHtml } from './dashboard-empty-page.ts';
import { type PageFiles, pageFiles, printSizes } from './dashboard-sizes.ts';
import { printRows, printTable, type Summary, summarize } from './stats.ts';

const opens = 10;
const latencyRuns = 3;
const eventCount = 200;
const eventIntervalMs = 10;
const eventSelector = '[data-testid=ticket-events] [data-event-id]';

/**
 * Installed before any page script: notes when each `[data-event-id]` element enters the DOM
 * and marks its text elements for Element Timing, notes the dashboard's first render into #app
 * (the main script ran) and when each fetch was made and answered (the event stream's entry in
 * resource timing only appears once the stream ends).
 */
const probeScript = `(() => {
  const bench = (window.__bench = { inserted: {}, painted: {}, fetched: [], appRenderedMs: undefined });
  const originalFetch = window.fetch;
  window.fetch = function (input, init) {
    const entry = { url: String(input instanceof Request ? input.url : input), startMs: performance.now() };
    bench.fetched.push(entry);
    const answer = originalFetch.call(this, input, init);
    answer.then(() => { entry.answeredMs = performance.now(); }, () => {});
    return answer;
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const at = entry.renderTime || entry.loadTime;
      if (at && !(bench.painted[entry.identifier] <= at)) bench.painted[entry.identifier] = at;
    }
  }).observe({ type: 'element', buffered: true });
  const holdsText = (element) =>
    [...element.childNodes].some((node) => node.nodeType === 3 && node.data.trim() !== '');
  new MutationObserver((records) => {
    const now = performance.now();
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        if (bench.appRenderedMs === undefined && node.parentElement?.closest('#app')) bench.appRenderedMs = now;
        const events = node.matches('[data-event-id]') ? [node] : [];
        for (const element of [...events, ...node.querySelectorAll('[data-event-id]')]) {
          const id = element.getAttribute('data-event-id');
          if (id in bench.inserted) continue;
          bench.inserted[id] = now;
          for (const part of [element, ...element.querySelectorAll('*')]) {
            if (holdsText(part)) part.setAttribute('elementtiming', id);
          }
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
})()`;

interface Variant {
  name: string;
  path: (id: string) => string;
}

export async function dashboardBenchmark(): Promise<void> {
  const skip = browserSkipReason();
  if (skip) {
    process.stdout.write(`\n## dashboard\n\nskipped: ${skip}\n`);
    return;
  }
  const server = await startTestServer({ scheduling: { poolSize: 0 } });
  const browser = await launchBrowser();
  try {
    const { token } = await server.client('bench');
    const ids = {
      ticket: (await runningTicket(server)).id,
      evidenceTicket: await ticketWithEvidence(server),
    };
    await printSizes(browser, server.url, token, ids);
    const variants: Variant[] = [
      { name: 'empty bundle', path: (id) => `/bench-empty/${id}` },
      { name: 'dashboard', path: (id) => `/tickets/${id}` },
      { name: 'empty, batched per frame', path: (id) => `/bench-empty-batched/${id}` },
    ];
    const files = await pageFiles('ticket-page');
    const results = [];
    for (const variant of variants) {
      results.push(await measureVariant(server, browser, token, variant, files));
    }
    const [empty] = results;
    if (!empty) return;
    const rows: Array<{ summary: Summary; floor?: Summary }> = [];
    for (const measure of ['open', 'painted', 'inserted'] as const) {
      rows.push({ summary: empty[measure] });
      for (const other of results.slice(1)) {
        // A measurement with no samples (the ticket page not built) is left out and noted below.
        if (other[measure].samples > 0)
          rows.push({ summary: other[measure], floor: empty[measure] });
      }
    }
    printTable(
      `dashboard: ticket page open → first event on screen; event latency server → screen, and → DOM (diagnostic); ${opens} opens, ${latencyRuns}×${eventCount} events at ${1000 / eventIntervalMs}/s`,
      rows,
    );
    printPhases(variants, results);
    const notes = results.flatMap((result) => result.notes);
    if (notes.length > 0) process.stdout.write(`\n${notes.join('\n')}\n`);
  } finally {
    await browser.close();
    await server.close();
  }
}

const phaseNames = {
  html: 'HTML received',
  mainLoaded: 'main script and its imports loaded',
  main: 'main script ran (first render)',
  whoami: 'signed in (whoami answered)',
  chunk: 'ticket page chunk loaded',
  streamAsked: 'event stream requested',
  streamAnswered: 'event stream answered (headers)',
  firstInDom: 'first event in DOM',
  firstOnScreen: 'first event on screen',
} as const;
type Phases = Partial<Record<keyof typeof phaseNames, number>>;

function printPhases(variants: Variant[], results: Array<{ phases: Phases[] }>): void {
  const cell = (samples: number[]) => {
    if (samples.length === 0) return '–';
    const summary = summarize('', samples);
    return `${summary.medianMs.toFixed(0)} / ${summary.p95Ms.toFixed(0)}`;
  };
  const rows = Object.entries(phaseNames).map(([key, name]) => [
    name,
    ...results.map((result) =>
      cell(result.phases.flatMap((phases) => phases[key as keyof Phases] ?? [])),
    ),
  ]);
  printRows(
    `dashboard: where opening the ticket page goes, ms since navigation start (median / p95 of ${opens} opens)`,
    ['phase', ...variants.map((variant) => variant.name)],
    rows,
  );
}

/** A ticket that is running as far as its followers know: its stream stays open. */
async function runningTicket(server: TestServer): Promise<{ id: string; firstEvent: number }> {
  const id = `tkt_bench${Math.random().toString(36).slice(2, 12)}`;
  await server.server.services.repository.insertTicket(
    ticketRecord(id, 'bench', 'app', { status: 'running', attempt: 1 }),
  );
  const first = await comment(server, id, 'first event');
  return { id, firstEvent: first.id };
}

/** A ticket in review whose evidence has a TypeScript diff (the page highlights it). */
async function ticketWithEvidence(server: TestServer): Promise<string> {
  const id = `tkt_bench${Math.random().toString(36).slice(2, 12)}`;
  const { repository } = server.server.services;
  await repository.insertTicket(
    ticketRecord(id, 'bench', 'app', { status: 'awaiting_review', attempt: 1 }),
  );
  const diff =
    '--- a/sum.ts\n+++ b/sum.ts\n@@ -1 +1 @@\n-export const a = 1;\n+export const a = 2;\n';
  const files = [{ path: 'sum.ts', added: 1, removed: 1, binary: false }];
  await repository.putEvidence(evidenceRecord(id, 1, { diff, diffStat: { files } }));
  return id;
}

const comment = (server: TestServer, id: string, text: string) =>
  server.server.services.tickets.comment('bench', id, { author: 'bench', text });

async function measureVariant(
  server: TestServer,
  browser: Browser,
  token: string,
  variant: Variant,
  files: PageFiles,
) {
  const notes: string[] = [];
  const context = await browser.newContext();
  await context.addInitScript(`sessionStorage.setItem('mags.token', ${JSON.stringify(token)})`);
  await context.addInitScript(probeScript);
  await context.route(/\/bench-empty(-batched)?\//, (route) => {
    const url = new URL(route.request().url());
    const id = url.pathname.split('/').pop() ?? '';
    const batched = url.pathname.startsWith('/bench-empty-batched/');
    return route.fulfill({ contentType: 'text/html', body: emptyPageHtml(id, batched) });
  });
  const open: number[] = [];
  const phases: Phases[] = [];
  const latency = { inserted: [] as number[], painted: [] as number[], unpainted: 0 };
  try {
    // Open -1 is a warm-up (the server's and the browser's first time on this page), not counted.
    for (let index = -1; index < opens; index++) {
      const ticket = await runningTicket(server);
      const page = await context.newPage();
      await page.goto(`${server.url}${variant.path(ticket.id)}`);
      const shown = await page
        .waitForSelector(eventSelector, { timeout: 15_000 })
        .then(() => true)
        .catch(() => false);
      if (!shown) {
        notes.push(`${variant.name}: no ${eventSelector} within 15 s (is the ticket page built?)`);
        await page.close();
        break;
      }
      await painted(page, ticket.firstEvent);
      if (index < 0) {
        await page.close();
        continue;
      }
      const opened = await openPhases(page, ticket.firstEvent, files);
      phases.push(opened);
      if (opened.firstOnScreen !== undefined) open.push(opened.firstOnScreen);
      if (index >= opens - latencyRuns) {
        const run = await eventLatencies(server, page, ticket.id);
        latency.inserted.push(...run.inserted);
        latency.painted.push(...run.painted);
        latency.unpainted += run.inserted.length - run.painted.length;
      }
      await page.close();
    }
  } finally {
    await context.close();
  }
  if (latency.unpainted > 0) {
    notes.push(`${variant.name}: ${latency.unpainted} events inserted without a paint reported`);
  }
  const rate = `${1000 / eventIntervalMs}/s`;
  return {
    open: summarize(`${variant.name}: open → first event on screen`, open),
    painted: summarize(`${variant.name}: event server → screen (${rate})`, latency.painted),
    inserted: summarize(`${variant.name}: event server → DOM (${rate})`, latency.inserted),
    phases,
    notes,
  };
}

/** Waits (up to 5 s) for Element Timing to report event `id` painted. */
async function painted(page: Page, id: number): Promise<void> {
  await page
    .waitForFunction(`window.__bench.painted[${JSON.stringify(String(id))}] !== undefined`, null, {
      timeout: 5_000,
    })
    .catch(() => undefined);
}

/** The open's milestones, in ms since navigation start (the page's time origin). */
async function openPhases(page: Page, firstEvent: number, files: PageFiles): Promise<Phases> {
  return (await page.evaluate(`(() => {
    const bench = window.__bench;
    const resources = performance.getEntriesByType('resource');
    const loaded = (part) => resources.find((entry) => entry.name.includes(part))?.responseEnd;
    const stream = bench.fetched.find((entry) => entry.url.includes('/events'));
    const ends = ${JSON.stringify(files.main)}.map(loaded);
    return {
      html: performance.getEntriesByType('navigation')[0]?.responseEnd,
      mainLoaded: ends.every((end) => end !== undefined) ? Math.max(...ends) : undefined,
      main: bench.appRenderedMs,
      whoami: loaded('/v1/whoami'),
      chunk: loaded(${JSON.stringify(files.chunk)}),
      streamAsked: stream?.startMs,
      streamAnswered: stream?.answeredMs,
      firstInDom: bench.inserted[${JSON.stringify(String(firstEvent))}],
      firstOnScreen: bench.painted[${JSON.stringify(String(firstEvent))}],
    };
  })()`)) as Phases;
}

/** Appends `eventCount` events at 100/s; each one's store → DOM and store → screen times. */
async function eventLatencies(
  server: TestServer,
  page: Page,
  id: string,
): Promise<{ inserted: number[]; painted: number[] }> {
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
  await painted(page, Math.max(...storedAt.keys()));
  const {
    origin,
    inserted,
    painted: paintedAt,
  } = (await page.evaluate(
    '({ origin: performance.timeOrigin, inserted: window.__bench.inserted, painted: window.__bench.painted })',
  )) as { origin: number; inserted: Record<string, number>; painted: Record<string, number> };
  const since = (at: Record<string, number>) =>
    [...storedAt].flatMap(([eventId, storedMs]) => {
      const pageMs = at[eventId];
      return pageMs === undefined ? [] : [origin + pageMs - storedMs];
    });
  return { inserted: since(inserted), painted: since(paintedAt) };
}
