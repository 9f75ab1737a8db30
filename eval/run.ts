/**
 * `npm run eval`: the evaluation suite (eval/fixtures) through a mags server in this process.
 *
 *     npm run eval -- --model anthropic:claude-sonnet-4-5     a real model (its key in the environment)
 *     npm run eval -- --scripted oracle                       the known fixes: must grade FULL everywhere
 *     npm run eval -- --scripted liar                         claims without changes: must grade NO everywhere
 *     npm run eval -- --fixture slugify-digits --json         one fixture, rows as JSON
 *
 * Exit code: with --scripted, 0 only when every fixture graded as that model must (CI runs
 * both); with --model, 0 when every ticket could be run and graded (the resolve rate is a result,
 * not a failure); 2 for bad arguments or a model that cannot be used (a missing key).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkModel } from '../src/agents/resolve-model.ts';
import { evaluationApi } from './evaluation-api.ts';
import { scriptedExpectationFailures } from './evaluation-expectations.ts';
import { type EvaluationRow, renderEvaluation } from './evaluation-report.ts';
import { startEvaluationServer } from './evaluation-server.ts';
import { loadFixtures } from './fixture.ts';
import { runEvaluation } from './run-evaluation.ts';
import { liarModel } from './scripted/liar-model.ts';
import { oracleModel } from './scripted/oracle-model.ts';

const usage =
  'usage: npm run eval -- (--model provider:model | --scripted oracle|liar) [--fixture NAME]... [--concurrency N] [--json]';

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        model: { type: 'string' },
        scripted: { type: 'string' },
        fixture: { type: 'string', multiple: true },
        concurrency: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return fail(`${(error as Error).message}\n${usage}`);
  }
})();
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const scripted = values.scripted;
if ((values.model === undefined) === (scripted === undefined))
  fail(`give --model or --scripted\n${usage}`);
if (scripted !== undefined && scripted !== 'oracle' && scripted !== 'liar') {
  fail(`--scripted is oracle or liar, not ${scripted}`);
}
if (values.model !== undefined) {
  try {
    checkModel(
      values.model,
      process.env,
      'your environment (the evaluation runs its server in this process)',
    );
  } catch (error) {
    const hint = (error as { hint?: string }).hint;
    fail(`${(error as Error).message}${hint ? `\n  hint: ${hint}` : ''}`);
  }
}
const concurrency = Number(values.concurrency ?? (scripted ? 3 : 1));
if (!Number.isInteger(concurrency) || concurrency < 1)
  fail('--concurrency is a whole number from 1');

const fixtures = await loadFixtures(values.fixture).catch((error: Error) => fail(error.message));
const model = scripted ? `scripted:${scripted}` : (values.model as string);
const server = await startEvaluationServer({
  scripted: { oracle: oracleModel(fixtures), liar: liarModel(fixtures) },
  tickets: { maxRunning: concurrency, maxRunningPerOwner: concurrency },
});
const workDirectory = await mkdtemp(join(tmpdir(), 'mags-eval-'));
if (!values.json) {
  // A real model takes minutes per fixture: say what runs before the first row comes.
  process.stderr.write(
    `eval: ${fixtures.length} fixture${fixtures.length === 1 ? '' : 's'} with ${model}, ${Math.min(concurrency, fixtures.length)} at once; a line per fixture as it is graded\n`,
  );
}
let rows: EvaluationRow[];
try {
  const mags = await server.client('eval');
  rows = await runEvaluation({
    api: evaluationApi(mags),
    fixtures,
    model,
    concurrency,
    workDirectory,
    onRow: (row) => {
      if (!values.json) {
        process.stderr.write(
          `${row.fixture}: ${row.grade?.grade ?? 'not graded'} (${row.status})\n`,
        );
      }
    },
  });
} finally {
  await server.close();
  await rm(workDirectory, { recursive: true, force: true });
}
if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
else process.stdout.write(renderEvaluation(rows, model));

const problems = scripted
  ? scriptedExpectationFailures(scripted, rows)
  : rows
      .filter((row) => row.grade === null)
      .map((row) => `${row.fixture}: not graded (${row.note})`);
for (const problem of problems) process.stderr.write(`eval: ${problem}\n`);
if (scripted && problems.length === 0) {
  // The table alone reads as a score; for the liar, 0% is the expected result.
  process.stderr.write(
    scripted === 'oracle'
      ? 'eval: as expected: the oracle graded FULL with every criterion met on every fixture\n'
      : 'eval: as expected: the liar graded NO on every fixture and its claims were not taken\n',
  );
}
process.exitCode = problems.length > 0 ? 1 : 0;

function fail(message: string): never {
  process.stderr.write(`eval: ${message}\n`);
  process.exit(2);
}
