// Builds everything that is not committed: the native launcher and guest agent (make), the CLI
// bundle and the web dashboard (esbuild). Fast enough to run before every test run.
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { build } from 'esbuild';
import { buildDashboard } from './build-dashboard.ts';

execFileSync('make', ['-C', 'native', '--no-print-directory', '--silent'], { stdio: 'inherit' });

await rm('dist', { recursive: true, force: true });
await build({
  // The SDK is its own entry point (the package's main export): it never loads the CLI or server.
  entryPoints: { cli: 'src/cli/main.ts', sdk: 'src/sdk/index.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'bundle',
  // The AWS SDK is loaded only when an S3 store is used; Node loads it from node_modules then.
  // The same for the Kubernetes client, only when the kubernetes runtime is used.
  external: ['@aws-sdk/*', '@smithy/*', '@kubernetes/client-node'],
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  // Commander is CommonJS: bundled into ESM, its require() calls need a real require.
  banner: {
    js: "import { createRequire as __magsCreateRequire } from 'node:module'; const require = __magsCreateRequire(import.meta.url);",
  },
});

await buildDashboard();
