#!/usr/bin/env node
// Entry point of the `mags` CLI. Runs the bundle in dist/ (built by `npm run build`) with Node's
// compile cache, which is what keeps start-up close to a bare `node -e 0`.
import { existsSync } from 'node:fs';
import module from 'node:module';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `mags: Node.js ${process.versions.node} is too old; mags needs Node.js 22.18 or newer.\n` +
      '  hint: run it through npx (npx mags ...), which uses the Node.js 24 the setup installed.\n',
  );
  process.exit(1);
}
module.enableCompileCache?.();

const bundle = new URL('../dist/cli.js', import.meta.url);
const { main } = existsSync(bundle)
  ? await import(bundle.href)
  : await import(new URL('../src/cli/main.ts', import.meta.url).href);
await main(process.argv);
