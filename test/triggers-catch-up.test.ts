/**
 * What a schedule trigger does about the times it missed while the server was down, per its
 * policy: `skip` records one `missed` firing with their count, `once` fires one `catch_up`
 * firing. The trigger managers here share one state database like two server processes one after
 * the other; the second one's clock is days later (no waiting).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { builtinTicketParts } from '../src/tickets/builtin-ticket-parts.ts';
import { TicketManager } from '../src/tickets/ticket-manager.ts';
import { TriggerManager } from '../src/triggers/trigger-manager.ts';
import { projectRecord } from './helpers/project-record.ts';
import { scriptedModel } from './helpers/scripted-model.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

let api: TestApp;
let tickets: TicketManager;
before(async () => {
  api = await createTestApp();
  await api.services.repository.insertProject(projectRecord('webapp'));
  // A scripted model (and a key for its provider): the catch-up firing's ticket is created.
  const scripted = scriptedModel(() => ({ text: 'done' }), {
    provider: 'openai',
    modelId: 'openai:scripted-night',
  });
  const { repository, sandboxes, projects } = api.services;
  tickets = new TicketManager({
    repository,
    sandboxes,
    projects,
    parts: builtinTicketParts({ resolveModel: () => scripted.model }),
    environment: { OPENAI_API_KEY: 'sk-scripted-models-make-no-calls' },
    log: () => {},
  });
});
after(() => api.close());

const template =
  '---\ntitle: Nightly\nmodel: openai:scripted-night\ncriteria: [{text: done}]\n---\nLook at the night.\n';

test('missed scheduled times after a restart: skip records them once, once fires one catch-up', async () => {
  const { repository, projects } = api.services;
  const first = new TriggerManager({ repository, tickets, projects, log: () => {} });
  await first.start();
  for (const catchUp of ['skip', 'once'] as const) {
    await first.add('alice', {
      name: `nightly-${catchUp}`,
      project: 'webapp',
      template,
      schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin', catchUp },
    });
  }
  const armed = await first.get('alice', 'nightly-skip');
  assert.ok(armed.nextFireAt, 'the time it waits for is stored');
  await first.stop(); // the server goes down before 03:00
  // Up again two days and an hour after the first missed time: three 03:00s have passed.
  const later = new Date(new Date(armed.nextFireAt).getTime() + (2 * 24 + 1) * 3600_000);
  const logged: string[] = [];
  const second = new TriggerManager({
    repository,
    tickets,
    projects,
    now: () => later,
    log: (line) => logged.push(line),
  });
  await second.start();
  try {
    const skipped = await second.firings('alice', 'nightly-skip');
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]?.status, 'missed');
    assert.equal(skipped[0]?.ticket, null);
    assert.match(
      skipped[0]?.reason ?? '',
      /^3 scheduled times .* passed while the server was down; catchUp is skip$/,
    );
    const caught = await second.firings('alice', 'nightly-once');
    assert.equal(caught.length, 1);
    assert.equal(caught[0]?.source, 'catch_up');
    assert.deepEqual(caught[0]?.payload, {
      missed: 3,
      countIsLowerBound: false,
      from: armed.nextFireAt,
      to: caught[0]?.scheduledAt,
    });
    assert.equal(caught[0]?.status, 'created', caught[0]?.reason ?? '');
    assert.ok(caught[0]?.ticket);
    for (const name of ['nightly-skip', 'nightly-once']) {
      const trigger = await second.get('alice', name);
      assert.ok((trigger.nextFireAt ?? '') > later.toISOString(), `${name} waits for a later time`);
    }
  } finally {
    await second.stop();
  }
  // A third start at the same time finds nothing more missed.
  const third = new TriggerManager({
    repository,
    tickets,
    projects,
    now: () => later,
    log: () => {},
  });
  await third.start();
  await third.stop();
  assert.equal((await third.firings('alice', 'nightly-skip')).length, 1);
  assert.equal((await third.firings('alice', 'nightly-once')).length, 1);
});
