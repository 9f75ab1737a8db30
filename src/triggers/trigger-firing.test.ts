/**
 * The firer's decisions on the real state repository, with tickets that do not run (the test
 * moves them and sets their cost): loops between triggers, budgets reserved by running work,
 * limits under simultaneous firings (in one process and across two "servers" on one state), a
 * scheduled time claimed once, skipped firings folded, render failures recorded as failed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StoredTickets } from '../../test/helpers/trigger-tickets.ts';
import { InvalidInputError, type MagsError } from '../errors/mags-error.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../state/state-repository.ts';
import { autoApproveIfMet } from './trigger-auto-approve.ts';
import { TriggerFirer } from './trigger-firing.ts';
import { loopReason } from './trigger-limits.ts';
import { TriggerManager } from './trigger-manager.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-test-triggers-'));
after(() => rm(directory, { recursive: true, force: true }));
let databases = 0;

function setUp(now?: () => Date) {
  const path = join(directory, `state-${++databases}.db`);
  const repository = createSqliteStateRepository(path);
  const tickets = new StoredTickets(repository);
  const manager = new TriggerManager({ repository, tickets, log: () => {}, now });
  return { path, repository, tickets, manager };
}

const template = (budgetUsd?: number) =>
  [
    '---',
    'title: "Follow up {{payload.title}}"',
    ...(budgetUsd ? ['budget:', `  maxCostUsd: ${budgetUsd}`] : []),
    'criteria:',
    '  - text: done',
    '    check: "true"',
    '---',
    'Look at {{payload}}.',
  ].join('\n');

test('two ticket.approved triggers that would feed each other stop: a trigger never fires twice in a chain', async () => {
  const { repository, tickets, manager } = setUp();
  await manager.start();
  try {
    for (const name of ['first', 'second']) {
      const { trigger } = await manager.add('ann', {
        name,
        project: 'calc',
        template: template(),
        event: { type: 'ticket.approved' },
      });
      assert.equal(trigger.spec.maxFiringsPerDay, 100, 'an event trigger gets a daily limit');
    }
    const start = await tickets.create('ann', {
      project: 'calc',
      title: 'by hand',
      request: 'r',
      criteria: [{ text: 'ok' }],
    });
    // Approve every ticket as it appears, as a person (or autoApprove) would, for a while.
    const approved = new Set<string>();
    let next: string[] = [start.id];
    for (let round = 0; round < 10 && next.length > 0; round++) {
      for (const id of next) {
        approved.add(id);
        await tickets.approve('ann', id);
      }
      await manager.settled();
      const all = await repository.listTickets({ owner: 'ann' });
      next = all.map((each) => each.id).filter((id) => !approved.has(id));
    }
    assert.deepEqual(next, [], 'the chain of tickets ends');
    // start → first, second; first's → second (chain first → second); second's → first.
    assert.equal(tickets.created.length, 1 + 4);
    const firings = [
      ...(await manager.firings('ann', 'first', 100)),
      ...(await manager.firings('ann', 'second', 100)),
    ];
    const created = firings.filter((each) => each.status === 'created');
    assert.deepEqual(created.map((each) => each.chain.length).sort(), [1, 1, 2, 2]);
    const loops = firings.filter((each) => each.status === 'skipped');
    assert.ok(loops.length > 0);
    for (const loop of loops) assert.match(loop.reason ?? '', /^a loop: /);
  } finally {
    await manager.stop();
    await repository.close();
  }
});

test('a chain deeper than the limit is refused with its reason', () => {
  const trigger = { id: 'trg_d' } as Parameters<typeof loopReason>[0];
  assert.equal(loopReason(trigger, ['trg_a', 'trg_b']), null);
  assert.match(loopReason(trigger, ['trg_a', 'trg_b', 'trg_c']) ?? '', /a chain of 3 triggers/);
  assert.match(loopReason(trigger, ['trg_d']) ?? '', /a loop/);
});

test('the daily budget is reserved by running work (maxConcurrent 2), and charged to the day it still runs', async () => {
  let now = new Date('2026-03-01T23:58:00.000Z');
  const { repository, tickets, manager } = setUp(() => now);
  await manager.add('ann', {
    name: 'budgeted',
    project: 'calc',
    template: template(0.6),
    webhook: true,
    maxConcurrent: 2,
    dailyBudgetUsd: 1,
  });
  const fire = () => manager.fire('ann', 'budgeted', { title: 't' });
  const [one, two, three] = await Promise.all([fire(), fire(), fire()]);
  assert.deepEqual(
    [one?.status, two?.status, three?.status],
    ['created', 'created', 'skipped'],
    three?.reason ?? '',
  );
  // The second got only what the first's cap left; the third nothing.
  assert.deepEqual(
    tickets.created.map((each) => each.budget?.maxCostUsd),
    [0.6, 0.4],
  );
  assert.match(three?.reason ?? '', /daily budget of \$1 is spent or reserved/);
  // The first finishes having cost $0.10: its unused reservation is free again.
  await tickets.move('ann', one?.ticket as string, 'awaiting_review', 0.1);
  const four = await fire();
  assert.equal(four.status, 'created', four.reason ?? '');
  assert.ok(Math.abs((tickets.created[2]?.budget?.maxCostUsd ?? 0) - 0.5) < 1e-9);
  // After midnight, the tickets still running are charged to the new day: nothing is free.
  now = new Date('2026-03-02T00:01:00.000Z');
  await tickets.move('ann', two?.ticket as string, 'running', 0.2);
  const five = await fire();
  assert.equal(five.status, 'skipped');
  await repository.close();
});

test('simultaneous firings on two servers sharing one state pass maxFiringsPerDay together once', async () => {
  const first = setUp();
  const second = {
    repository: createSqliteStateRepository(first.path),
  } as { repository: StateRepository };
  const secondManager = new TriggerManager({
    repository: second.repository,
    tickets: new StoredTickets(second.repository),
    log: () => {},
  });
  await first.manager.add('ann', {
    name: 'limited',
    project: 'calc',
    template: template(),
    webhook: true,
    maxConcurrent: 50,
    maxFiringsPerDay: 3,
  });
  const fired = await Promise.all(
    Array.from({ length: 12 }, (_, index) =>
      (index % 2 ? first.manager : secondManager).fire('ann', 'limited', { title: `${index}` }),
    ),
  );
  assert.equal(fired.filter((each) => each.status === 'created').length, 3);
  const history = await first.manager.firings('ann', 'limited', 100);
  assert.equal(history.filter((each) => each.status === 'created').length, 3);
  // The refusals are one row with a count (they said the same).
  const skipped = history.filter((each) => each.status === 'skipped');
  assert.deepEqual(
    skipped.map((each) => each.repeats),
    [9],
  );
  await first.repository.close();
  await second.repository.close();
});

test('a scheduled time is fired by one server: the second finds it claimed', async () => {
  const { path, repository, tickets, manager } = setUp();
  const other = createSqliteStateRepository(path);
  const { trigger } = await manager.add('ann', {
    name: 'nightly',
    project: 'calc',
    template: template(),
    schedule: { cron: '0 3 * * *' },
  });
  const firers = [repository, other].map(
    (each) => new TriggerFirer({ repository: each, tickets, log: () => {} }),
  );
  const scheduledAt = new Date('2026-03-01T03:00:00.000Z');
  const results = await Promise.all(
    firers.map((firer) => firer.fire(trigger, { source: 'schedule', scheduledAt })),
  );
  assert.equal(results.filter((each) => each !== undefined).length, 1);
  assert.equal(tickets.created.length, 1);
  await other.close();
  await repository.close();
});

test('a payload too deep to render is a failed firing, not a thrown error', async () => {
  const { repository, manager } = setUp();
  await manager.add('ann', {
    name: 'deep',
    project: 'calc',
    template: template(),
    webhook: true,
  });
  let payload: unknown = 'bottom';
  for (let depth = 0; depth < 200_000; depth++) payload = [payload];
  const firing = await manager.fire('ann', 'deep', { title: 't', nested: payload });
  assert.equal(firing.status, 'failed');
  assert.match(firing.reason ?? '', /call stack/i);
  await repository.close();
});

test("a firing that fails stores the error's hint with its reason; a manual fire works while paused", async () => {
  const { repository, tickets, manager } = setUp();
  await manager.add('ann', {
    name: 'hinted',
    project: 'calc',
    template: template(),
    webhook: true,
  });
  const create = tickets.create.bind(tickets);
  tickets.create = async () => {
    throw new InvalidInputError('No model to run this ticket with.', {
      hint: 'Give one (--model …).',
    });
  };
  const failed = await manager.fire('ann', 'hinted', { title: 't' });
  assert.equal(failed.status, 'failed');
  assert.equal(failed.reason, 'No model to run this ticket with. (Give one (--model …).)');
  tickets.create = create;
  await manager.pause('ann', 'hinted');
  const tested = await manager.fire('ann', 'hinted', { title: 't' });
  assert.equal(tested.status, 'created', tested.reason ?? '');
  await repository.close();
});

test('a manual fire renders {{firing.scheduledAt}} as its own time, not as empty text', async () => {
  const { repository, tickets, manager } = setUp();
  await manager.add('ann', {
    name: 'timed',
    project: 'calc',
    template: [
      '---',
      'title: "At {{firing.scheduledAt}}"',
      'criteria: [{text: done, check: "true"}]',
      '---',
      'r',
    ].join('\n'),
    webhook: true,
  });
  const firing = await manager.fire('ann', 'timed');
  assert.equal(firing.scheduledAt, null);
  assert.equal(tickets.created[0]?.title, `At ${firing.at}`);
  await repository.close();
});

test("add and resume check the template's ticket as ticket create would: refused, nothing stored", async () => {
  const { repository, tickets, manager } = setUp();
  let refuse = true;
  const checked: unknown[] = [];
  tickets.check = async (_owner, body) => {
    checked.push(body);
    if (refuse)
      throw new InvalidInputError('No model to run this ticket with.', { code: 'model_missing' });
  };
  await assert.rejects(
    manager.add('ann', { name: 'nomodel', project: 'calc', template: template(), webhook: true }),
    (error: MagsError) => error.code === 'model_missing',
  );
  assert.deepEqual(await manager.list('ann'), []);
  assert.match(JSON.stringify(checked[0]), /"title":"Follow up"/, 'rendered from an empty payload');
  refuse = false;
  await manager.add('ann', {
    name: 'nomodel',
    project: 'calc',
    template: template(),
    webhook: true,
  });
  await manager.pause('ann', 'nomodel');
  refuse = true;
  await assert.rejects(manager.resume('ann', 'nomodel'), /No model/);
  await repository.close();
});

test('a trigger removed before its firing runs is a 404; a paused one approves nothing', async () => {
  const { repository, tickets, manager } = setUp();
  const { trigger } = await manager.add('ann', {
    name: 'approver',
    project: 'calc',
    template: template(),
    webhook: true,
    autoApprove: true,
  });
  const firing = await manager.fire('ann', 'approver', { title: 't' });
  const services = { repository, tickets, log: () => {} };
  await manager.pause('ann', 'approver');
  assert.equal(await autoApproveIfMet(firing.ticket as string, services), false);
  await manager.resume('ann', 'approver');
  assert.equal(await autoApproveIfMet(firing.ticket as string, services), true);
  const firer = new TriggerFirer(services);
  await manager.remove('ann', 'approver');
  await assert.rejects(
    firer.fire(trigger, { source: 'manual' }),
    (error: MagsError) => error.code === 'trigger_not_found' && error.statusCode === 404,
  );
  await repository.close();
});

test('schedules are no more frequent than the server allows, and an owner has at most so many triggers', async () => {
  const repository = createSqliteStateRepository(join(directory, `state-${++databases}.db`));
  const manager = new TriggerManager({
    repository,
    tickets: new StoredTickets(repository),
    log: () => {},
    settings: { maxPerOwner: 2, minIntervalSeconds: 60 },
    environment: {},
    unlimited: (owner) => owner === 'local',
  });
  const add = (owner: string, name: string, cron: string) =>
    manager.add(owner, { name, project: 'calc', template: template(), schedule: { cron } });
  await assert.rejects(
    add('ann', 'fast', '*/10 * * * * *'),
    (error: MagsError) =>
      error.code === 'schedule_too_frequent' &&
      /MAGS_TRIGGER_MIN_INTERVAL_SECONDS/.test(error.hint ?? ''),
  );
  await add('local', 'fast', '*/10 * * * * *');
  await add('ann', 'one', '* * * * *');
  await add('ann', 'two', '0 * * * *');
  await assert.rejects(
    add('ann', 'three', '0 3 * * *'),
    (error: MagsError) => error.code === 'trigger_limit' && error.statusCode === 409,
  );
  assert.deepEqual(
    (await manager.list('ann')).map((each) => each.name),
    ['one', 'two'],
  );
  await repository.close();
});

test('catch-up after a long downtime: the count stops at its cap, the last time is exact, and two servers record it once', async () => {
  const path = join(directory, `state-${++databases}.db`);
  let now = new Date('2026-03-01T12:00:00.400Z');
  const managerOn = (repository: StateRepository) =>
    new TriggerManager({
      repository,
      tickets: new StoredTickets(repository),
      log: () => {},
      now: () => now,
      settings: { minIntervalSeconds: 0 },
    });
  const repository = createSqliteStateRepository(path);
  const first = managerOn(repository);
  await first.start();
  await first.add('ann', {
    name: 'each-second',
    project: 'calc',
    template: template(),
    schedule: { cron: '* * * * * *' },
  });
  await first.stop();
  now = new Date('2026-03-02T12:00:00.400Z'); // a day of seconds missed
  const other = createSqliteStateRepository(path);
  const servers = [managerOn(repository), managerOn(other)];
  await Promise.all(servers.map((server) => server.start()));
  await Promise.all(servers.map((server) => server.stop()));
  const firings = await servers[0]?.firings('ann', 'each-second');
  const missed = firings?.filter((each) => each.status === 'missed') ?? [];
  assert.equal(missed.length, 1);
  assert.equal(missed[0]?.scheduledAt, '2026-03-02T12:00:00.000Z');
  assert.match(
    missed[0]?.reason ?? '',
    /^at least 1000 scheduled times \(2026-03-01T12:00:01\.000Z to 2026-03-02T12:00:00\.000Z\)/,
  );
  await other.close();
  await repository.close();
});
