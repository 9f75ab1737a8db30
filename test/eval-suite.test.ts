/**
 * `npm run eval` with the scripted models, through a real server in this process: every fixture
 * becomes a project and a ticket, the real built-in loop works it with the oracle or the liar, the
 * platform assembles the evidence, and the hidden tests grade the ticket's sandbox afterwards.
 * The oracle must grade FULL with every criterion met on every fixture; the liar NO, with the
 * evidence not taking its word. (All six fixtures take seconds with a scripted model.)
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluationApi } from '../eval/evaluation-api.ts';
import { scriptedExpectationFailures } from '../eval/evaluation-expectations.ts';
import { gradeOf, renderEvaluation } from '../eval/evaluation-report.ts';
import { startEvaluationServer } from '../eval/evaluation-server.ts';
import { loadFixtures } from '../eval/fixture.ts';
import { runEvaluation } from '../eval/run-evaluation.ts';
import { liarModel } from '../eval/scripted/liar-model.ts';
import { oracleModel } from '../eval/scripted/oracle-model.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
const fixtures = await loadFixtures();

test('the scripted oracle grades FULL and the liar NO on every fixture', { skip }, async (t) => {
  const server = await startEvaluationServer({
    scripted: { oracle: oracleModel(fixtures), liar: liarModel(fixtures) },
    tickets: { maxRunning: 3, maxRunningPerOwner: 3 },
  });
  const workDirectory = await mkdtemp(join(tmpdir(), 'mags-eval-suite-'));
  t.after(async () => {
    await server.close();
    await rm(workDirectory, { recursive: true, force: true });
  });
  for (const name of ['oracle', 'liar'] as const) {
    // One owner per model: the same project names, apart.
    const mags = await server.client(`eval-${name}`);
    const rows = await runEvaluation({
      api: evaluationApi(mags),
      fixtures,
      model: `scripted:${name}`,
      concurrency: 3,
      workDirectory,
    });
    const table = renderEvaluation(rows, name);
    assert.deepEqual(scriptedExpectationFailures(name, rows), [], table);
    assert.deepEqual(
      rows.map((row) => [row.fixture, gradeOf(row)]),
      fixtures.map((fixture) => [fixture.name, name === 'oracle' ? 'FULL' : 'NO']),
      table,
    );
    for (const row of rows) {
      assert.ok(row.grade, `${row.fixture} was graded`);
      assert.ok(row.steps >= 1 && row.tokens > 0, `${row.fixture}: usage counted\n${table}`);
      // The liar's F2P tests all fail: it changed nothing; its P2P tests still pass.
      if (name === 'liar') {
        assert.equal(row.grade.failToPass.passed, 0, table);
        assert.equal(row.grade.passToPass.passed, row.grade.passToPass.total, table);
      }
    }
  }
});
