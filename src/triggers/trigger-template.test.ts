import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MagsError } from '../errors/mags-error.ts';
import {
  maxPlaceholders,
  parseTriggerTemplate,
  render,
  renderTemplate,
  type TemplateValues,
} from './trigger-template.ts';

const values = (payload: unknown): TemplateValues => ({
  payload,
  event: null,
  trigger: { id: 'trg_1', name: 'issues', project: 'calc' },
  firing: { id: 'fir_1', at: '2025-01-01T00:00:00.000Z', source: 'webhook', scheduledAt: null },
});

const template = (title: string, request: string) =>
  [
    '---',
    `title: "${title}"`,
    'criteria:',
    '  - text: it works',
    '    check: "true"',
    '---',
    request,
  ].join('\n');

test('a template with more placeholders than allowed is refused when added, with a clear error', () => {
  const many = Array.from({ length: maxPlaceholders + 1 }, () => '{{payload}}').join(' ');
  assert.throws(
    () => parseTriggerTemplate(template('T', many), 'calc'),
    (error: MagsError) =>
      error.code === 'too_many_placeholders' && error.message.includes(`${maxPlaceholders + 1}`),
  );
  const enough = Array.from({ length: maxPlaceholders }, () => '{{payload.a}}').join(' ');
  assert.equal(parseTriggerTemplate(template('T', enough), 'calc').request, enough);
});

test('rendering stops at its budget and turns each distinct path into text once', () => {
  // 18,000 copies of {{payload}} with a 250 KB payload once exhausted a 4 GB heap.
  const payload = { text: 'x'.repeat(250_000) };
  let reads = 0;
  const counted = {
    get text() {
      reads++;
      return payload.text;
    },
  };
  const text = '{{payload}}'.repeat(18_000);
  const rendered = render(text, values(counted), 1000);
  assert.equal(rendered.length, 1000);
  assert.equal(reads, 1);
  assert.ok(rendered.startsWith('{"text":"xxx'));
});

test('a literal text after the last placeholder is kept, and cut at the budget', () => {
  assert.equal(render('a {{payload.n}} b', values({ n: 7 }), 100), 'a 7 b');
  assert.equal(render('a {{payload.n}} bcdef', values({ n: 7 }), 6), 'a 7 bc');
});

test('control characters of a payload are removed (an escape sequence never reaches a terminal)', () => {
  const rendered = renderTemplate(
    { title: 'Issue {{payload.title}}', request: 'Body:\n{{payload.body}}', criteria: [] },
    values({ title: 'red\u001b[31m \u0007bell\u009b2J', body: 'line 1\n\tline 2\u001b]0;x\u0007' }),
  );
  assert.equal(rendered.title, 'Issue red[31m bell2J');
  assert.equal(rendered.request, 'Body:\nline 1\n\tline 2]0;x');
});

test('a misspelt {{trigger.…}} or {{firing.…}} field is refused with the valid ones; payload and event keys are free', () => {
  assert.throws(
    () => parseTriggerTemplate(template('{{trigger.nmae}}', 'r'), 'calc'),
    (error: MagsError) =>
      error.code === 'invalid_template' &&
      /title has \{\{trigger\.nmae\}\}: trigger has no such field/.test(error.message) &&
      error.hint === 'Use one of {{trigger.id}}, {{trigger.name}}, {{trigger.project}}.',
  );
  assert.throws(
    () => parseTriggerTemplate(template('T', 'at {{firing.scheduled_at}}'), 'calc'),
    (error: MagsError) => /\{\{firing\.scheduledAt\}\}/.test(error.hint ?? ''),
  );
  assert.throws(
    () => parseTriggerTemplate(template('T', '{{firing.at.x}}'), 'calc'),
    /no such field/,
  );
  const fine = parseTriggerTemplate(
    template(
      '{{trigger.name}} {{firing}}',
      '{{firing.scheduledAt}} {{payload.any.key}} {{event.job}}',
    ),
    'calc',
  );
  assert.equal(fine.title, '{{trigger.name}} {{firing}}');
});
