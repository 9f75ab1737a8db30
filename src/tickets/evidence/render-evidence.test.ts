import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Evidence, EvidenceSchema } from '../../api/tickets.ts';
import { renderEvidenceMarkdown, renderEvidenceText } from './render-evidence.ts';

const evidence: Evidence = EvidenceSchema.parse({
  ticket: 'tkt_render',
  attempt: 2,
  agentEnd: 'finished',
  agentMessage: 'the agent finished',
  summary: 'Fixed add.\nAll criteria met.',
  baseCommit: 'a0c47af747a855a9de02c8b0a083018b58ca03dc',
  tree: '9f2ad2c8a5f4e0c8a3e0f6f1c1a52b3d8d0b2a41',
  diff: 'diff --git a/math.mjs b/math.mjs\n--- a/math.mjs\n+++ b/math.mjs\n@@ -1 +1 @@\n-a - b\n+a + b\n',
  diffStat: {
    files: [
      { path: 'image.bin', added: null, removed: null, binary: true },
      { path: 'math.mjs', added: 1, removed: 1, binary: false },
    ],
  },
  tests: {
    command: 'npm test',
    exitCode: 0,
    timedOut: false,
    durationMs: 1234,
    counts: { passed: 14, failed: 0, skipped: 0, format: 'node' },
    log: 'ℹ pass 14\nℹ fail 0\n',
  },
  criteria: [
    {
      criterion: 0,
      text: 'add adds',
      check: 'node --test',
      status: 'met',
      exitCode: 0,
      timedOut: false,
      output: '',
      durationMs: 300,
      claim: { criterion: 0, met: true },
    },
    {
      criterion: 1,
      text: 'a | b in the table',
      check: 'grep -q `x` notes',
      status: 'not_met',
      exitCode: 1,
      timedOut: false,
      output: 'no match\n',
      durationMs: 10,
      claim: { criterion: 1, met: true, note: 'I wrote it' },
    },
    {
      criterion: 2,
      text: 'reads well',
      check: null,
      status: 'needs_person',
      exitCode: null,
      timedOut: false,
      output: '',
      durationMs: 0,
      claim: null,
    },
  ],
  usage: { inputTokens: 1200, outputTokens: 340, costUsd: 0.0123, steps: 4 },
  startedAt: '2026-11-29T10:00:00.000Z',
  finishedAt: '2026-11-29T10:01:05.000Z',
  durationMs: 65_000,
});

describe('rendering evidence', () => {
  test('Markdown: verified results first, the agent claims beside them, tests, changes, cost', () => {
    const markdown = renderEvidenceMarkdown(evidence);
    assert.match(
      markdown,
      /\*\*1\/3 criteria met \(1 for a person to judge\), tests 14 passed 0 failed, 2 files changed\*\*/,
    );
    assert.match(markdown, /\| 1 \| add adds \| ✅ met \(exit 0\) \| `node --test` \| met \|/);
    assert.match(
      markdown,
      /\| 2 \| a \\\| b in the table \| ❌ not met \(exit 1\) \| `` grep -q `x` notes `` \| met: I wrote it \|/,
    );
    assert.match(
      markdown,
      /\| 3 \| reads well \| ❔ needs a person \(no check command\) \| — \| — \|/,
    );
    assert.match(markdown, /Criterion 2: output of the check[\s\S]*no match/);
    assert.match(markdown, /tests 14 passed 0 failed \(read from node output\), 1\.2 s/);
    assert.match(markdown, /\| `image\.bin` \| binary \| {2}\|/);
    assert.match(markdown, /\| `math\.mjs` \| 1 \| 1 \|/);
    assert.match(markdown, /```diff\ndiff --git a\/math\.mjs/);
    assert.match(markdown, /> Fixed add\.\n> All criteria met\./);
    assert.match(markdown, /\| 1200 \| 340 \| \$0\.0123 \| 4 \| 1m 05s \|/);
  });

  test('plain text for a terminal', () => {
    const text = renderEvidenceText(evidence);
    assert.match(text, /^Ticket tkt_render, attempt 2: 1\/3 criteria met/);
    assert.match(
      text,
      /✔ 1\. add adds\n {6}met \(exit 0\) — check: node --test\n {6}agent claimed: met/,
    );
    assert.match(
      text,
      /✖ 2\. a \| b in the table\n {6}not met \(exit 1\)[^\n]*\n {6}agent claimed: met: I wrote it\n {6}\| no match/,
    );
    assert.match(text, /\? 3\. reads well\n {6}needs a person/);
    assert.match(
      text,
      /Tests: npm test → tests 14 passed 0 failed \(read from node output\), 1\.2 s/,
    );
    assert.match(text, /image\.bin {2}\(binary\)\n {2}math\.mjs {2}\+1 -1/);
    assert.match(text, /Usage: 1200 input \+ 340 output tokens, \$0\.0123, 4 steps, 1m 05s/);
    assert.match(text, /\+a \+ b\n$/);
    assert.doesNotMatch(renderEvidenceText(evidence, { diff: false }), /diff --git/);
  });
});
