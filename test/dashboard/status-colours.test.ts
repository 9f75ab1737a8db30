/**
 * The status badges' colours (styles/base.css) are exactly the status words the API gives:
 * each one a page shows in a StatusBadge has a colour, and no rule colours a word that no
 * API value is (one left from a status that was renamed or never existed).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { planStatuses, planTicketStates } from '../../src/api/plans.ts';
import { JobStatusSchema, SandboxSchema } from '../../src/api/schemas.ts';
import { CriterionResultSchema, ticketStatuses } from '../../src/api/tickets.ts';

test('every status, state and verdict of the API has a badge colour, and only those', () => {
  const css = readFileSync(new URL('../../src/dashboard/styles/base.css', import.meta.url), 'utf8');
  const coloured = new Set([...css.matchAll(/\.status-([a-z_]+)/g)].map((match) => match[1] ?? ''));
  const values = new Set<string>([
    ...ticketStatuses,
    ...planStatuses,
    ...planTicketStates,
    ...JobStatusSchema.options,
    ...SandboxSchema.shape.status.options,
    ...CriterionResultSchema.shape.status.options,
  ]);
  assert.deepEqual([...values].filter((value) => !coloured.has(value)).sort(), [], 'no colour');
  assert.deepEqual([...coloured].filter((word) => !values.has(word)).sort(), [], 'no API value');
});
