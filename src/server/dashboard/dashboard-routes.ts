import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { Context } from 'hono';
import { dashboardPagePaths } from '../../api/dashboard-pages.ts';
import { packageRoot } from '../../config/package-paths.ts';
import type { ServerApp } from '../create-app.ts';
import {
  contentSecurityPolicy,
  dashboardSecurityHeaders,
  newStyleNonce,
} from './dashboard-headers.ts';

/** The single-page app's own paths: each answers with index.html, whose router shows the page. */
export const dashboardPages = dashboardPagePaths;

const contentTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** Names the build writes (`main-HASH.js`, `chunks/x-HASH.js`): nothing else is ever served. */
const assetName = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_.-]+)*\.[a-z0-9]+$/;

export const defaultDashboardDirectory = () => join(packageRoot(), 'dist', 'dashboard');

/**
 * Serves the web dashboard built by `npm run build` (scripts/build-dashboard.ts): hashed assets
 * cached for a year (a new build has new names), index.html never cached (it names the current
 * assets), precompressed brotli or gzip copies when the client takes them. The dashboard is a
 * client of the public API like any other: nothing here reads state or tokens.
 */
export function registerDashboardRoutes(
  app: ServerApp,
  directory = defaultDashboardDirectory(),
): { notFoundPage: (c: Context) => Promise<Response> | undefined } {
  const assets = resolve(directory, 'assets');
  const template = indexTemplate(join(directory, 'index.html'));
  const index = async (c: Context, status: 200 | 404 = 200) => {
    const page = await template();
    if (page === undefined) {
      return c.text(
        'The mags dashboard is not built here: run `npm run build` in the mags checkout, then reload.\n',
        503,
        { 'Cache-Control': 'no-store' },
      );
    }
    const nonce = newStyleNonce();
    return c.html(page.replaceAll('%NONCE%', nonce), status, {
      ...dashboardSecurityHeaders,
      'Content-Security-Policy': contentSecurityPolicy(nonce),
      // The page names the current build's assets and carries a nonce: never reuse it.
      'Cache-Control': 'no-store',
    });
  };
  for (const page of dashboardPages) app.get(page, (c) => index(c));
  app.get('/assets/*', async (c) => {
    // Hono has decoded the path once already; built names need no more (a `%` is a 404 below).
    const name = c.req.path.slice('/assets/'.length);
    const path = resolve(assets, name);
    if (!assetName.test(name) || name.includes('..') || !path.startsWith(`${assets}${sep}`)) {
      return c.text('No such file.\n', 404);
    }
    const type = contentTypes[extname(name)];
    const encoding = type ? await bestEncoding(path, c.req.header('accept-encoding') ?? '') : null;
    if (!type || encoding === undefined) return c.text('No such file.\n', 404);
    const file = encoding ? `${path}.${encoding === 'br' ? 'br' : 'gz'}` : path;
    return c.body(new Uint8Array(await readFile(file)), 200, {
      ...dashboardSecurityHeaders,
      'Content-Type': type,
      'Cache-Control': 'public, max-age=31536000, immutable',
      Vary: 'Accept-Encoding',
      ...(encoding ? { 'Content-Encoding': encoding } : {}),
    });
  });
  return {
    // A browser that follows a mistyped link (`/nope`) gets the dashboard, which says there is
    // no such page and keeps its navigation, as a 404; API clients keep their JSON 404.
    notFoundPage: (c) =>
      c.req.method === 'GET' &&
      !c.req.path.startsWith('/v1/') &&
      !c.req.path.startsWith('/assets/') &&
      (c.req.header('accept') ?? '').includes('text/html')
        ? index(c, 404)
        : undefined,
  };
}

/**
 * index.html as it is now: read again when its modification time or size changes, so a rebuild (which
 * deletes the old hashed assets it named) is served at once, and a failed read is not kept.
 * Undefined: not built.
 */
function indexTemplate(path: string): () => Promise<string | undefined> {
  let cached: { version: string; text: string } | undefined;
  return async () => {
    const version = await stat(path).then(
      (info) => `${info.mtimeMs}:${info.size}`,
      () => undefined,
    );
    if (version === undefined) return undefined;
    if (cached?.version !== version) cached = { version, text: await readFile(path, 'utf8') };
    return cached.text;
  };
}

/** `br` or `gzip` when the client takes it and the build wrote it, null for the plain file,
 * undefined when there is no such file at all. */
async function bestEncoding(
  path: string,
  acceptEncoding: string,
): Promise<'br' | 'gzip' | null | undefined> {
  const accepted = new Set(acceptEncoding.split(',').map((part) => part.split(';')[0]?.trim()));
  if (!(await isFile(path))) return undefined;
  if (accepted.has('br') && (await isFile(`${path}.br`))) return 'br';
  if (accepted.has('gzip') && (await isFile(`${path}.gz`))) return 'gzip';
  return null;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
