/**
 * Schedule triggers end to end (a real server, the namespace runtime, scripted agent models): a
 * per-second schedule fires at its scheduled second, never overlaps a slow run (the skipped
 * firing says why), and obeys the daily limits (firings per day, and a cost budget that also
 * caps each ticket's own maxCostUsd). Timings are not asserted: only what each firing recorded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type EndToEndServer,
  finish,
  followTicket,
  startEndToEndServer,
} from './helpers/end-to-end-tickets.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { calcTemplate, waitForFirings } from './helpers/triggers.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping schedule trigger tests: ${skip}\n`);

const everySecond = { cron: '* * * * * *' };

describe('schedule triggers (real server, scripted models)', { skip }, () => {
  let e2e: EndToEndServer;
  before(async () => {
    e2e = await startEndToEndServer();
  });
  after(() => e2e?.close());

  test('a per-second schedule fires at its scheduled second; a firing per day is the limit', async () => {
    // A day's limit starts again at midnight (UTC): not within a minute before it.
    const toMidnightMs = 86_400_000 - (Date.now() % 86_400_000);
    if (toMidnightMs < 60_000)
      await new Promise((resolve) => setTimeout(resolve, toMidnightMs + 1000));
    const model = e2e.model(() => finish('looked', true));
    const { trigger } = await e2e.alice.triggers.create({
      name: 'each-second',
      project: 'calc',
      template: calcTemplate(model.id, 'Scheduled at {{firing.scheduledAt}}'),
      schedule: everySecond,
      maxFiringsPerDay: 1,
    });
    assert.match(trigger.nextFireAt ?? '', /\.000Z$/);
    const firings = await waitForFirings(e2e.alice, 'each-second', (all) =>
      all.some((firing) => /--max-per-day 1/.test(firing.reason ?? '')),
    );
    await e2e.alice.triggers.pause('each-second');
    const created = firings.filter((firing) => firing.status === 'created');
    assert.equal(created.length, 1);
    const [first] = created;
    assert.ok(first?.scheduledAt && first.ticket);
    assert.match(first.scheduledAt, /\.000Z$/, 'a whole second');
    assert.ok(
      first.at >= first.scheduledAt,
      `fired at ${first.at}, scheduled ${first.scheduledAt}`,
    );
    assert.equal(first.source, 'schedule');
    const ticket = await e2e.alice.tickets.get(first.ticket);
    assert.equal(ticket.title, `Scheduled at ${first.scheduledAt}`);
    const limited = firings.find((firing) => /--max-per-day/.test(firing.reason ?? ''));
    assert.equal(limited?.status, 'skipped');
    assert.equal(limited?.ticket, null);
    assert.equal(
      (await e2e.alice.tickets.list({ project: 'calc' })).filter((each) =>
        each.title.startsWith('Scheduled at'),
      ).length,
      1,
    );
    const paused = await e2e.alice.triggers.get('each-second');
    assert.deepEqual([paused.paused, paused.nextFireAt], [true, null]);
  });

  test('a slow run is not overlapped: the next times are skipped with the reason', async () => {
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const model = e2e.model(async () => {
      await gate;
      return finish('slowly', true);
    });
    await e2e.alice.triggers.create({
      name: 'slow',
      project: 'calc',
      template: calcTemplate(model.id, 'slow'),
      schedule: everySecond,
      maxConcurrent: 5, // so the overlap rule, not concurrency, is what refuses
    });
    const firings = await waitForFirings(e2e.alice, 'slow', (all) =>
      all.some((firing) => /--allow-overlap is off/.test(firing.reason ?? '')),
    );
    await e2e.alice.triggers.pause('slow');
    open();
    const created = firings.filter((firing) => firing.status === 'created');
    assert.equal(created.length, 1);
    const skipped = firings.find((firing) => firing.status === 'skipped');
    assert.match(
      skipped?.reason ?? '',
      new RegExp(
        `previous scheduled firing's ticket ${created[0]?.ticket} is still queued or running`,
      ),
    );
    await followTicket(e2e.alice, created[0]?.ticket as string);
  });

  test('a daily cost budget: each ticket capped at what remains; once spent, firings are skipped', async () => {
    const model = e2e.model(() => finish('spent', true));
    const budgetUsd = 0.0001; // less than one scripted step costs (scriptedPrice)
    await e2e.alice.triggers.create({
      name: 'budgeted',
      project: 'calc',
      template: calcTemplate(model.id, 'budgeted'),
      schedule: everySecond,
      dailyBudgetUsd: budgetUsd,
    });
    const firings = await waitForFirings(e2e.alice, 'budgeted', (all) =>
      all.some((firing) => /daily budget/.test(firing.reason ?? '')),
    );
    await e2e.alice.triggers.pause('budgeted');
    const created = firings.filter((firing) => firing.status === 'created');
    assert.equal(created.length, 1);
    const ticket = await e2e.alice.tickets.get(created[0]?.ticket as string);
    assert.equal(ticket.budget.maxCostUsd, budgetUsd);
    assert.ok(ticket.usage.costUsd >= budgetUsd, `cost ${ticket.usage.costUsd}`);
    const spent = firings.find((firing) => /daily budget/.test(firing.reason ?? ''));
    assert.match(spent?.reason ?? '', /the daily budget of \$0\.0001 is spent/);
    assert.equal(spent?.ticket, null);
  });
});
