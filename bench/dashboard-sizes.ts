/**
 * The compressed JavaScript a dashboard page loads first: the main entry, the page's chunk and
 * every module they import statically, as `scripts/build-dashboard.ts` lists them in
 * dist/dashboard/modules.json, measured from the .gz and .br files the server sends; and what a
 * page really fetches when opened in Chromium (its chunks loaded on demand too, such as the
 * evidence page's syntax highlighter, loaded right after its first render).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { packageRoot } from '../src/config/package-paths.ts';
import { emptyPageSize } from './dashboard-empty-page.ts';
import { printRows } from './stats.ts';

interface ModuleEntry {
  entryPoint: string | null;
  imports: string[];
  dynamicImports: string[];
  inputs: string[];
}

export interface PageSize {
  page: string;
  files: number;
  rawBytes: number;
  gzipBytes: number;
  brotliBytes: number;
}

const dashboardDirectory = () => join(packageRoot(), 'dist', 'dashboard');

async function readModules(): Promise<Record<string, ModuleEntry>> {
  return JSON.parse(await readFile(join(dashboardDirectory(), 'modules.json'), 'utf8'));
}

/** Each page's own chunk (the one a dynamic import loads), by the page's file name. */
export async function pageChunks(): Promise<Map<string, string>> {
  const entries = Object.entries(await readModules());
  const pages = new Map<string, string>();
  for (const [url, entry] of entries) {
    for (const input of entry.inputs) {
      const page = /^src\/dashboard\/pages\/([\w-]+)\.tsx$/.exec(input)?.[1];
      if (page && entries.some(([, other]) => other.dynamicImports.includes(url))) {
        pages.set(page, url);
      }
    }
  }
  return new Map([...pages].sort(([a], [b]) => a.localeCompare(b)));
}

/** The main entry and every module it imports statically, by URL. */
function mainClosure(modules: Record<string, ModuleEntry>) {
  const main = Object.entries(modules).find(
    ([, entry]) => entry.entryPoint === 'src/dashboard/main.tsx',
  )?.[0];
  if (!main) throw new Error('modules.json has no main entry: npm run build');
  return (roots: string[]) => {
    const seen = new Set<string>();
    const visit = (url: string) => {
      if (seen.has(url)) return;
      seen.add(url);
      for (const next of modules[url]?.imports ?? []) visit(next);
    };
    for (const root of [main, ...roots]) visit(root);
    return [...seen];
  };
}

export interface PageFiles {
  /** The main entry and its static imports. */
  main: string[];
  /** The page's own chunk. */
  chunk: string;
}

/** The files that make up a page's first load, by URL. */
export async function pageFiles(page: string): Promise<PageFiles> {
  const chunk = (await pageChunks()).get(page);
  if (!chunk) throw new Error(`modules.json has no chunk for ${page}: npm run build`);
  return { main: mainClosure(await readModules())([]), chunk };
}

/** First-load sizes of each page (named after its file in src/dashboard/pages/). */
export async function dashboardPageSizes(): Promise<PageSize[]> {
  const closure = mainClosure(await readModules());
  const sizes: PageSize[] = [];
  for (const [page, url] of await pageChunks()) {
    sizes.push({ page, ...(await sizeOf(closure([url]))) });
  }
  return sizes;
}

async function sizeOf(urls: string[]): Promise<Omit<PageSize, 'page'>> {
  let rawBytes = 0;
  let gzipBytes = 0;
  let brotliBytes = 0;
  for (const url of urls) {
    const path = join(dashboardDirectory(), url);
    rawBytes += (await stat(path)).size;
    gzipBytes += (await stat(`${path}.gz`)).size;
    brotliBytes += (await stat(`${path}.br`)).size;
  }
  return { files: urls.length, rawBytes, gzipBytes, brotliBytes };
}

/** Where the bench opens each page; ids the server does not know are marked as such. */
export function pagePaths(ids: { ticket: string; evidenceTicket: string }) {
  return new Map<string, { path: string; missing?: true }>([
    ['evidence-page', { path: `/tickets/${ids.evidenceTicket}/evidence` }],
    ['job-page', { path: '/jobs/job_benchmissing', missing: true }],
    ['jobs-page', { path: '/jobs' }],
    ['plan-page', { path: '/plans/pln_benchmissing', missing: true }],
    ['plans-page', { path: '/plans' }],
    ['sandbox-page', { path: '/sandboxes/sbx_benchmissing', missing: true }],
    ['sandboxes-page', { path: '/sandboxes' }],
    ['system-page', { path: '/system' }],
    ['ticket-page', { path: `/tickets/${ids.ticket}` }],
    ['tickets-board', { path: '/tickets' }],
    ['workspace-page', { path: '/workspaces/benchmissing', missing: true }],
    ['workspaces-page', { path: '/workspaces' }],
  ]);
}

export interface FetchedOnOpen {
  scriptFiles: number;
  /** Bytes on the wire (`encodedBodySize`: compressed as the server sent them). */
  scriptBytes: number;
  cssBytes: number;
  /** The Content-Encoding the browser got for the main script. */
  encoding: string;
}

/**
 * Opens `url` in a fresh context (no cache) and sums the script and stylesheet resources the
 * page fetched once no new one has started for `quietMs` (an open event stream never ends, so
 * the network is never idle in Playwright's sense).
 */
export async function fetchedOnOpen(
  browser: Browser,
  url: string,
  token: string,
  quietMs = 1000,
): Promise<FetchedOnOpen> {
  const context = await browser.newContext();
  try {
    await context.addInitScript(`sessionStorage.setItem('mags.token', ${JSON.stringify(token)})`);
    const page = await context.newPage();
    let encoding = '';
    page.on('response', async (response) => {
      if (/\/assets\/main-[^/]+\.js$/.test(response.url())) {
        encoding = (await response.allHeaders())['content-encoding'] ?? 'identity';
      }
    });
    await page.goto(url);
    const count = () => page.evaluate("performance.getEntriesByType('resource').length");
    let seen = -1;
    for (let waitedMs = 0; waitedMs < 15_000; waitedMs += quietMs) {
      const now = await count();
      if (now === seen) break;
      seen = now as number;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
    const sums = (await page.evaluate(`(() => {
      const all = performance.getEntriesByType('resource');
      const scripts = all.filter((entry) => /\\.js(\\?|$)/.test(new URL(entry.name).pathname));
      const css = all.filter((entry) => /\\.css$/.test(new URL(entry.name).pathname));
      const sum = (list) => list.reduce((total, entry) => total + entry.encodedBodySize, 0);
      return { scriptFiles: scripts.length, scriptBytes: sum(scripts), cssBytes: sum(css) };
    })()`)) as Omit<FetchedOnOpen, 'encoding'>;
    return { ...sums, encoding };
  } finally {
    await context.close();
  }
}

/**
 * Prints each page's first-load JavaScript beside the empty page's, and what it fetched when
 * opened; `ids` name a ticket and a ticket with evidence that the server knows.
 */
export async function printSizes(
  browser: Browser,
  serverUrl: string,
  token: string,
  ids: { ticket: string; evidenceTicket: string },
): Promise<void> {
  const empty = emptyPageSize();
  const kib = (bytes: number) => (bytes / 1024).toFixed(1);
  const paths = pagePaths(ids);
  const rows = [
    ['empty bundle (baseline)', '1', kib(empty.rawBytes), kib(empty.gzipBytes)].concat([
      kib(empty.brotliBytes),
      '0.0',
      'inline',
      kib(empty.rawBytes),
      '0.0',
    ]),
  ];
  let encoding = '';
  for (const size of await dashboardPageSizes()) {
    const opened = paths.get(size.page);
    const fetched = opened && (await fetchedOnOpen(browser, `${serverUrl}${opened.path}`, token));
    encoding ||= fetched ? fetched.encoding : '';
    rows.push([
      `${size.page}${opened?.missing ? ' (no such object)' : ''}`,
      String(size.files),
      kib(size.rawBytes),
      kib(size.gzipBytes),
      kib(size.brotliBytes),
      `+${kib(size.brotliBytes - empty.brotliBytes)}`,
      fetched ? String(fetched.scriptFiles) : '–',
      fetched ? kib(fetched.scriptBytes) : '–',
      fetched ? kib(fetched.cssBytes) : '–',
    ]);
  }
  printRows(
    `dashboard: JavaScript per page: first load (main + page chunk + static imports, modules.json), and fetched when opened in Chromium (${encoding || 'unknown'} encoding over http)`,
    ['page', 'files', 'raw KiB', 'gzip KiB', 'brotli KiB', 'brotli − empty KiB'].concat([
      'opened: scripts',
      'opened: script KiB',
      'opened: CSS KiB',
    ]),
    rows,
  );
}
