import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MagsError } from '../errors/mags-error.ts';
import { toolErrorResult } from './tool-result.ts';

/** The API's errors as the SDK gives them back, with the API's hints (which name CLI commands). */
const apiErrors: [code: string, message: string, apiHint: string][] = [
  ['workspace_busy', 'Workspace app is in use.', 'Wait for the run (mags list shows it).'],
  ['workspace_not_found', 'No workspace app.', 'mags workspace list shows yours; mags run -w NAME'],
  ['project_not_found', 'No project web.', 'mags project list shows yours.'],
  ['ticket_not_found', 'No ticket t_1.', 'mags ticket list shows yours.'],
  [
    'evidence_not_found',
    'No evidence yet.',
    'It comes when an attempt ends (mags ticket watch t_1).',
  ],
  ['model_missing', 'No model.', 'Give one (--model anthropic:claude-sonnet-4-5).'],
  ['sandbox_elsewhere', 'dev runs on host b.', 'Use it there (mags exec dev ...).'],
  ['sync_conflict', 'The workspace changed.', 'mags workspace pull app'],
  ['job_not_found', 'No job job_x.', 'mags list shows your jobs.'],
  ['sandbox_stopped', 'dev is stopped.', 'Start it again: mags start dev'],
  [
    'owner_limit_reached',
    'Owner "alice" already has 8 sandboxes running, the most one owner may.',
    'Stop or delete one you no longer use (mags list --sandboxes; mags stop NAME).',
  ],
  [
    'owner_limit_reached',
    'Owner "alice" already has 32 streams open, the most one owner may.',
    'Close streams you no longer read (dashboard tabs, `--follow` commands, shells).',
  ],
  [
    'owner_limit_reached',
    'Owner "alice" already has 100 jobs queued on host a, the most one owner may.',
    'Wait for some to finish (mags list --status queued), or stop some (mags stop ID).',
  ],
];

test('every tool error names tools, never CLI commands, in its text and its structured hint', () => {
  for (const [code, message, apiHint] of apiErrors) {
    const result = toolErrorResult(new MagsError(message, { code, hint: apiHint }));
    assert.equal(result.isError, true);
    const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
    assert.ok(text.startsWith(`${code}: ${message}\nhint: `), text);
    assert.doesNotMatch(text, /\bmags [a-z]|--[a-z]/, `${code}: ${text}`);
    const structured = result.structuredContent as { error: { code: string; hint: string } };
    assert.equal(structured.error.code, code);
    assert.ok(text.endsWith(structured.error.hint), 'the structured hint is the one in the text');
    assert.match(
      structured.error.hint,
      /[a-z]+_[a-z]+|`model`|\bWait\b/,
      `${code} says what to do`,
    );
  }
});

test('an error without a tool hint keeps its own; an unexpected error is structured too', () => {
  const own = toolErrorResult(new MagsError('Too big.', { code: 'too_large', hint: 'Smaller.' }));
  assert.deepEqual(own.structuredContent, {
    error: { code: 'too_large', message: 'Too big.', hint: 'Smaller.' },
  });
  const unexpected = toolErrorResult(new Error('boom'));
  assert.deepEqual(unexpected.structuredContent, {
    error: { code: 'internal_error', message: 'boom' },
  });
});
