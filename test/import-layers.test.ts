/**
 * The import graph layers cleanly (README, "Layout"): a folder of src/ imports only from its own
 * layer or those below it, never upward. Test files are left out (a test may assemble anything);
 * type-only imports count (they couple the layers' interfaces the same way).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';

/** Lowest first; folders on one line share a layer. */
const layers: string[][] = [
  // `testing`: what the contract suites of the layers above share (named skips, on node:test).
  ['config', 'errors', 'testing'],
  // The API's wire contract (zod schemas): the server validates with it, the SDK infers its types.
  ['api'],
  ['state', 'storage', 'guest', 'images'],
  ['workspaces'],
  ['runtimes'],
  ['scheduling'],
  // The host's services wired once (runtime, stores, workspace manager): what the managers take.
  ['context'],
  // `agents`: the agent interface (agent-v1) and the built-in loop; its tools act on a sandbox.
  ['sandboxes', 'jobs', 'agents'],
  // GUIDE §5: projects import repositories into workspaces; tickets run agents on their forks.
  ['projects', 'tickets'],
  // Plans dispatch tickets; cron jobs are schedules of jobs.
  ['plans', 'cron'],
  // Triggers create tickets or plans.
  ['triggers'],
  // Several servers on one state: placement, host presence, the queue, gone hosts (GUIDE §6).
  ['cluster'],
  // `mcp`: the MCP tools, a client of the public API through the SDK (only `mcpMayImport`),
  // below the server so that it can mount /mcp; the SDK imports nothing above `api`.
  ['mcp'],
  // Sandbox URLs are the server's reverse proxy: their access rules check the server's tokens.
  ['server', 'urls'],
  // The SDK is the CLI's client library, but may itself import only `sdkMayImport`.
  ['sdk'],
  // The web dashboard is a client like the CLI, in a browser: only `dashboardMayImport`.
  ['cli', 'dashboard'],
];
/** The SDK runs in clients: it may use only these, whatever their layer. */
const sdkMayImport = new Set(['config', 'errors', 'api']);
/** The MCP tools act only through the public API, with the caller's token. */
const mcpMayImport = new Set(['config', 'errors', 'api', 'sdk']);
/** The dashboard runs in a browser and talks only to the public API, through the SDK. */
const dashboardMayImport = new Set(['errors', 'api', 'sdk']);

const source = join(packageRoot(), 'src');
const rank = new Map(layers.flatMap((folders, index) => folders.map((name) => [name, index])));

async function sourceFiles(directory: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(path)));
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith('.test.ts')) files.push(path);
  }
  return files;
}

/** Module specifiers of static imports, re-exports and dynamic imports. */
function importsOf(text: string): string[] {
  const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
  return [...text.matchAll(pattern)].map((match) => match[1] as string);
}

const folderOf = (path: string) => relative(source, path).split(sep)[0] ?? '';

test('no module of src/ imports from a layer above its own', async () => {
  const violations = new Set<string>();
  const unknownFolders = new Set<string>();
  for (const file of await sourceFiles(source)) {
    const from = folderOf(file);
    for (const specifier of importsOf(await readFile(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue; // packages and node: builtins
      const target = resolve(dirname(file), specifier);
      if (!target.startsWith(`${source}${sep}`)) continue; // test helpers, package.json
      const to = folderOf(target);
      if (from === to) continue;
      const edge = `${relative(source, file)} -> ${relative(source, target)}`;
      const mayImport = { sdk: sdkMayImport, dashboard: dashboardMayImport, mcp: mcpMayImport }[
        from
      ];
      if (mayImport) {
        if (!mayImport.has(to)) violations.add(edge);
        continue;
      }
      const fromRank = rank.get(from);
      const toRank = rank.get(to);
      if (fromRank === undefined) unknownFolders.add(from);
      if (toRank === undefined) unknownFolders.add(to);
      if (fromRank !== undefined && toRank !== undefined && toRank > fromRank) violations.add(edge);
    }
  }
  assert.deepEqual([...unknownFolders], [], 'every folder of src/ has a layer in this test');
  assert.deepEqual([...violations].sort(), [], 'imports from a lower layer up to a higher one');
});
