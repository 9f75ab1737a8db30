/**
 * The plans pages in a real browser against a real server: no plans shows how to make one; a
 * plan written by hand (a PlanSpec: no planner model) is listed with its status and progress,
 * and its page draws the DAG with every ticket key and one edge per dependency; bob sees none of
 * it. Screenshots at both widths; no serious axe violations.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { PlanEvent, PlanSpec } from '../../src/api/plans.ts';
import {
  browserSkipReason,
  launchBrowser,
  screenshot,
  seriousAccessibilityViolations,
  signIn,
  viewports,
  watchPage,
} from '../helpers/browser.ts';
import { projectRecord } from '../helpers/project-record.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

const skip = browserSkipReason();
if (skip) process.stdout.write(`# skipping plans tests: ${skip}\n`);

const ticket = (key: string, dependsOn: string[]) => ({
  key,
  title: `The ${key} part`,
  request: `Build the ${key} part.`,
  criteria: [{ text: `${key} works` }],
  // A provider that needs no key: a draft's models are data until it is approved.
  model: 'ollama:qwen3',
  dependsOn,
});

/** A diamond and a tail: schema → (api, ui) → docs → release. */
const spec: PlanSpec = {
  summary: 'Users end to end',
  tickets: [
    ticket('schema', []),
    ticket('api', ['schema']),
    ticket('ui', ['schema']),
    ticket('docs', ['api', 'ui']),
    ticket('release', ['docs']),
  ],
};

describe('plans pages', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    await server.server.services.repository.insertProject(projectRecord('app', {}));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('no plans: the page says how to make one', async () => {
    const { token } = await server.client('carol');
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, token);
    await page.goto(`${server.url}/plans`);
    await page.getByText('No plans yet').waitFor();
    assert.match((await page.locator('main').textContent()) ?? '', /mags plan create/);
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('a plan from a plan file: listed, and its DAG has every key and an edge per dependency', async () => {
    const alice = await server.client('alice');
    const plan = await alice.mags.plans.create({ project: 'app', request: 'Add users', spec });
    const edges = spec.tickets.flatMap((each) => each.dependsOn.map((on) => `${on}->${each.key}`));
    for (const [name, viewport] of [
      ['desktop', viewports.desktop],
      ['phone', viewports.phone],
    ] as const) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      const watched = watchPage(page, server.url);
      await signIn(page, server.url, alice.token);
      await page.getByRole('link', { name: 'Plans' }).click();
      const row = page.locator(`[data-plan="${plan.id}"]`);
      await row.getByText('0 of 5 approved').waitFor();
      assert.match((await row.textContent()) ?? '', /draft/);
      await row.getByRole('link', { name: 'Users end to end' }).click();
      await page.waitForURL(`${server.url}/plans/${plan.id}`);
      await page.locator('.plan-node').first().waitFor();
      const keys = await page.locator('.plan-node-key').allTextContents();
      assert.deepEqual(keys.sort(), ['api', 'docs', 'release', 'schema', 'ui']);
      const drawn = await page
        .locator('.plan-edge')
        .evaluateAll((paths) => paths.map((path) => path.getAttribute('data-edge')));
      assert.deepEqual(drawn.sort(), [...edges].sort());
      // Depth decides the column: docs is right of api and ui, release right of docs.
      const left = async (key: string) =>
        (await page.locator(`.plan-node[data-key="${key}"]`).boundingBox())?.x ?? Number.NaN;
      assert.ok((await left('schema')) < (await left('api')));
      assert.equal(await left('api'), await left('ui'));
      assert.ok((await left('api')) < (await left('docs')));
      assert.ok((await left('docs')) < (await left('release')));
      await page.getByRole('button', { name: 'Approve and run' }).waitFor();
      await page.getByText('Add users').waitFor();
      await screenshot(page, `plan-${name}`);
      assert.deepEqual(await seriousAccessibilityViolations(page), []);
      assert.deepEqual(watched.problems, []);
      await context.close();
    }
  });

  test('an approved plan: its page reads the plan once on opening, not once per replayed event', async () => {
    const alice = await server.client('alice');
    const created = await alice.mags.plans.create({ project: 'app', request: 'Run users', spec });
    await alice.mags.plans.approve(created.id);
    // Its first ticket fails at once (no sandboxes here): the plan is blocked, settled.
    assert.equal((await alice.mags.plans.wait(created.id)).status, 'blocked');
    // A history of plan-level events (its status, each ticket's state) and its tickets' own.
    const history: PlanEvent[] = [];
    for await (const event of alice.mags.plans.events(created.id)) history.push(event);
    const planLevel = history.filter((event) => event.data.type !== 'ticket_event');
    assert.ok(planLevel.length >= 6, `plan-level events: ${planLevel.length}`);
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, alice.token);
    const isPlanRead = (url: string) => new URL(url).pathname.endsWith(`/v1/plans/${created.id}`);
    // Settled: its event stream replays the history and ends, and the page reads it once more.
    const replayed = page.waitForEvent('requestfinished', {
      predicate: (request) => request.url().includes(`/v1/plans/${created.id}/events`),
    });
    await page.goto(`${server.url}/plans/${created.id}`);
    await page.locator('.plan-node[data-key="schema"]').getByText('failed').waitFor();
    // It follows only what comes after the newest event: the history is not downloaded.
    assert.match((await replayed).url(), /after=latest/);
    const reads = () => watched.requests.filter(isPlanRead);
    while (reads().length < 2) await page.waitForRequest((request) => isPlanRead(request.url()));
    assert.deepEqual(reads().length, 2, `plan reads: ${reads().join(', ')}`);
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('the plans list is live: a plan made and one closed through the SDK show without a reload', async () => {
    const dave = await server.client('alice'); // the owner of project app
    const kept = await dave.mags.plans.create({ project: 'app', request: 'Kept plan', spec });
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, dave.token);
    await page.goto(`${server.url}/plans`);
    const keptRow = page.locator(`tr[data-plan="${kept.id}"]`);
    await keptRow.getByText('draft').waitFor();
    const navigations = watched.requests.filter((url) => new URL(url).pathname === '/plans');
    const made = await dave.mags.plans.create({
      project: 'app',
      request: 'Made while open',
      spec: { ...spec, summary: 'Made while the page is open' },
    });
    await page
      .locator(`tr[data-plan="${made.id}"]`)
      .getByText('Made while the page is open')
      .waitFor();
    await dave.mags.plans.close(kept.id);
    await keptRow.getByText('closed').waitFor();
    assert.deepEqual(
      watched.requests.filter((url) => new URL(url).pathname === '/plans'),
      navigations,
      'no reload',
    );
    assert.deepEqual(watched.problems, []);
    await context.close();
  });

  test('bob sees none of alice’s plans, and her plan’s URL is the API’s 404', async () => {
    const alice = await server.client('alice');
    const plan = await alice.mags.plans.create({ project: 'app', request: 'Secret plan', spec });
    const bob = await server.client('bob');
    const context = await browser.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    const watched = watchPage(page, server.url);
    await signIn(page, server.url, bob.token);
    await page.goto(`${server.url}/plans`);
    await page.getByText('No plans yet').waitFor();
    await page.goto(`${server.url}/plans/${plan.id}`);
    await page.getByRole('alert').getByText('No plan').waitFor();
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /Secret plan|schema/);
    // The 404 of the refused read is the only console error.
    assert.deepEqual(
      watched.problems.filter((problem) => !/404/.test(problem)),
      [],
    );
    await context.close();
  });
});
