/**
 * The budget: the ticket page's first load (main entry + the ticket page's chunk and
 * their static imports) is at most 250 KB of compressed JavaScript, read from the build's
 * dist/dashboard/modules.json and its .gz/.br files. A size, not a timing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { dashboardPageSizes } from '../../bench/dashboard-sizes.ts';
import { packageRoot } from '../../src/config/package-paths.ts';

const built = existsSync(join(packageRoot(), 'dist', 'dashboard', 'modules.json'));

test("the ticket page's first load is at most 250 KB of compressed JavaScript", {
  skip: built ? undefined : 'the dashboard is not built: npm run build',
}, async () => {
  const sizes = await dashboardPageSizes();
  const ticket = sizes.find((size) => size.page === 'ticket-page');
  assert.ok(
    ticket,
    `no ticket-page chunk in modules.json (pages: ${sizes.map((size) => size.page).join(', ')})`,
  );
  const budgetBytes = 250 * 1000;
  assert.ok(ticket.gzipBytes <= budgetBytes, `gzip: ${ticket.gzipBytes} bytes`);
  assert.ok(ticket.brotliBytes <= budgetBytes, `brotli: ${ticket.brotliBytes} bytes`);
  // Every page is measured, and each loads more than the main entry alone.
  assert.ok(sizes.length >= 10);
});
