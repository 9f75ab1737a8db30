import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job } from '../api/schemas.ts';
import { defaultTimeoutSeconds } from './command-tools.ts';
import { commandResult } from './run-command.ts';
import { OutputCollector } from './truncate-output.ts';

const endedJob = (fields: Partial<Job>): Job =>
  ({
    id: 'job_test1',
    kind: 'exec',
    sandbox: 'dev',
    command: ['sh', '-c', 'x'],
    status: 'failed',
    exitCode: null,
    signal: null,
    reason: null,
    endReason: 'exited',
    message: null,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:02.000Z',
    ...fields,
  }) as Job;

const output = (text: string) => {
  const collector = new OutputCollector();
  collector.add(new TextEncoder().encode(text));
  return collector;
};

const textOf = (result: ReturnType<typeof commandResult>) =>
  result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');

test('a SIGKILL says it is often the memory limit, in the text and the structured summary', () => {
  const result = commandResult(endedJob({ signal: 'SIGKILL' }), output('x\n'), 2000, 50, undefined);
  assert.match(
    textOf(result),
    /^killed by SIGKILL \(often the memory limit: see sandbox_create's memoryMiB\)/,
  );
  const structured = result.structuredContent as { summary: string; signal: string };
  assert.match(structured.summary, /memoryMiB/);
  assert.equal(structured.signal, 'SIGKILL');
});

test('a timeout says so once, without the API message naming a CLI flag', () => {
  const job = endedJob({
    status: 'failed',
    endReason: 'timed_out',
    signal: 'SIGTERM',
    message: 'timed out after 2 s (raise it with --timeout)',
  });
  const result = commandResult(job, output('before\n'), 2000, 2, undefined);
  const text = textOf(result);
  assert.match(text, /^timed out \(limit 2 s\) and was stopped after 2\.00 s; job job_test1/);
  assert.doesNotMatch(text, /--timeout/);
  const structured = result.structuredContent as Record<string, unknown>;
  assert.equal(structured.message, null);
  assert.equal(structured.timedOut, true);
});

test('the structured value alone carries what the text tells the model', () => {
  const job = endedJob({ exitCode: 3, message: 'exited with code 3: see the output' });
  const result = commandResult(job, output('to-out\nto-err\n'), 1500, 50, undefined);
  const structured = result.structuredContent as Record<string, unknown>;
  const text = textOf(result);
  assert.equal(structured.summary, text.split('\n')[0]);
  assert.equal(structured.message, 'exited with code 3: see the output');
  assert.ok(text.includes(String(structured.message)));
  assert.equal(structured.output, 'to-out\nto-err\n');
  assert.equal(structured.exitCode, 3);
  assert.equal(structured.logUri, 'mags://jobs/job_test1/log');
});

test('the default timeout is 120 s with a progress token, else 50 s (clients end calls at 60 s)', () => {
  assert.equal(defaultTimeoutSeconds(undefined), 50);
  assert.equal(defaultTimeoutSeconds('token-1'), 120);
  assert.equal(defaultTimeoutSeconds(0), 120);
});
