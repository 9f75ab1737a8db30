// Builds the web dashboard (src/dashboard) into dist/dashboard: hashed, code-split ES modules
// and their CSS, each beside a gzip and a brotli copy the server sends as they are, and the
// index.html that names them. The server adds the CSP nonce to index.html per response.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export const dashboardOutput = 'dist/dashboard';

export async function buildDashboard(): Promise<void> {
  const assets = join(dashboardOutput, 'assets');
  const result = await build({
    entryPoints: { main: 'src/dashboard/main.tsx' },
    outdir: assets,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    // light-dark() (the themes' colours, written once) needs these or newer.
    target: ['chrome123', 'firefox120', 'safari17.5'],
    // The SDK's file download to disk and its tree copies (node-tar) are Node only, never called
    // in a browser.
    external: ['node:*', 'tar'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: 'linked',
    entryNames: '[name]-[hash]',
    chunkNames: 'chunks/[name]-[hash]',
    assetNames: 'files/[name]-[hash]',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const outputs = Object.entries(result.metafile.outputs);
  const entry = outputs.find(([, output]) => output.entryPoint === 'src/dashboard/main.tsx');
  if (!entry) throw new Error('dashboard build: no output for src/dashboard/main.tsx');
  const [script, { cssBundle }] = entry;
  const url = (path: string) => `/${relative(dashboardOutput, path).split('\\').join('/')}`;
  const template = await readFile('src/dashboard/index.html', 'utf8');
  const html = template
    .replace('%SCRIPT%', url(script))
    .replace('%STYLES%', cssBundle ? url(cssBundle) : '')
    .replace('%BUILD%', createHash('sha256').update(script).digest('hex').slice(0, 12));
  await mkdir(dashboardOutput, { recursive: true });
  await writeFile(join(dashboardOutput, 'index.html'), html);
  // Which modules each entry and chunk loads first (its static imports): the benchmark and the
  // size test read a page's first-load bytes from it without parsing JavaScript.
  const graph = Object.fromEntries(
    outputs
      .filter(([path]) => path.endsWith('.js'))
      .map(([path, output]) => [
        url(path),
        {
          entryPoint: output.entryPoint ?? null,
          imports: output.imports
            .filter((item) => item.kind === 'import-statement')
            .map((item) => url(item.path)),
          dynamicImports: output.imports
            .filter((item) => item.kind === 'dynamic-import')
            .map((item) => url(item.path)),
          inputs: Object.keys(output.inputs).filter((input) => input.startsWith('src/dashboard/')),
        },
      ]),
  );
  await writeFile(join(dashboardOutput, 'modules.json'), `${JSON.stringify(graph, null, 1)}\n`);
  for (const [path] of outputs) {
    if (!/\.(js|css)$/.test(path)) continue;
    const bytes = await readFile(path);
    await writeFile(`${path}.gz`, gzipSync(bytes, { level: 9 }));
    await writeFile(
      `${path}.br`,
      brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    );
  }
}
