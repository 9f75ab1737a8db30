/**
 * The compressed JavaScript a dashboard page loads first: the main entry, the page's chunk and
 * every module they import statically, as `scripts/build-dashboard.ts` lists them in
 * dist/dashboard/modules.json, measured from the .gz and .br files the server sends.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../src/config/package-paths.ts';

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

/** First-load sizes of each page (named after its file in src/dashboard/pages/). */
export async function dashboardPageSizes(): Promise<PageSize[]> {
  const modules = JSON.parse(
    await readFile(join(dashboardDirectory(), 'modules.json'), 'utf8'),
  ) as Record<string, ModuleEntry>;
  const entries = Object.entries(modules);
  const main = entries.find(([, entry]) => entry.entryPoint === 'src/dashboard/main.tsx')?.[0];
  if (!main) throw new Error('modules.json has no main entry: npm run build');
  const closure = (roots: string[]) => {
    const seen = new Set<string>();
    const visit = (url: string) => {
      if (seen.has(url)) return;
      seen.add(url);
      for (const next of modules[url]?.imports ?? []) visit(next);
    };
    for (const root of roots) visit(root);
    return [...seen];
  };
  const pages = new Map<string, string>();
  for (const [url, entry] of entries) {
    for (const input of entry.inputs) {
      const page = /^src\/dashboard\/pages\/([\w-]+)\.tsx$/.exec(input)?.[1];
      // A page's own chunk is the one loaded by a dynamic import of it.
      if (page && entries.some(([, other]) => other.dynamicImports.includes(url))) {
        pages.set(page, url);
      }
    }
  }
  const sizes: PageSize[] = [];
  for (const [page, url] of [...pages].sort()) {
    sizes.push({ page, ...(await sizeOf(closure([main, url]))) });
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
