/**
 * What the dashboard's browser tests share: headless Chromium from Debian's `chromium` package
 * driven by playwright-core (no downloaded browser), the sign-in, screenshots written as test
 * artifacts, the page's own errors and policy violations collected, and an axe-core check.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { packageRoot } from '../../src/config/package-paths.ts';

export const chromiumPath = process.env.MAGS_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  if (!existsSync(chromiumPath)) {
    return `no Chromium at ${chromiumPath}: apt-get install chromium (scripts/setup.sh installs it), or set MAGS_CHROMIUM`;
  }
  if (!existsSync(join(packageRoot(), 'dist', 'dashboard', 'index.html'))) {
    return 'the dashboard is not built: npm run build';
  }
  return undefined;
}

/**
 * Flags as the machine notes say: without the background-networking ones Chromium keeps trying
 * Google's hosts, which this closed network refuses. No sandbox: the tests may run as root.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** The two widths every page must read at (issue 14): a laptop and a 390 px phone. */
export const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

/** Signs in through the form, as a person would, and waits for the tickets board. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/sign-in`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/tickets`);
}

/**
 * What went wrong in the page while a test drove it: uncaught errors, console errors, CSP
 * violations, and any request to another origin (the dashboard works offline: none may leave).
 */
export function watchPage(page: Page, origin: string) {
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('request', (request) => {
    requests.push(request.url());
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) {
      problems.push(`request to another origin: ${url}`);
    }
  });
  page.on('dialog', (dialog) => {
    problems.push(`dialog opened: ${dialog.type()} ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { problems, requests };
}

/** Where screenshots go: `test-artifacts/dashboard/` (or MAGS_TEST_ARTIFACTS), not committed. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const directory = join(
    process.env.MAGS_TEST_ARTIFACTS ?? join(packageRoot(), 'test-artifacts'),
    'dashboard',
  );
  await mkdir(directory, { recursive: true });
  const path = join(directory, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

const require = createRequire(import.meta.url);

/**
 * axe-core run in the page (evaluated through the DevTools protocol, which the page's CSP does
 * not govern): the violations of impact serious or critical, as `rule: target` lines.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  const source = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  // A string, not a function: the tests' TypeScript has no DOM types (it runs in Node).
  const violations = (await page.evaluate(`axe.run(document).then((result) =>
    result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      targets: violation.nodes.map((node) => JSON.stringify(node.target)),
    })))`)) as { id: string; impact: string | null; targets: string[] }[];
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.targets.join(', ')}`);
}
