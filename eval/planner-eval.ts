/**
 * `npm run eval:planner`: the planner with a real model over eval/planner-cases.ts, one row per
 * case (tickets, criteria with checks that can fail, expected dependencies met, tries, tokens,
 * cost, time).
 *
 *     npm run eval:planner -- --model anthropic:claude-sonnet-4-5    that model (its key in the environment)
 *     npm run eval:planner                                            the first provider with a key set, else skipped
 *
 * Exit code: 0 when every case passed, or when skipped for want of a key (said on stderr); 1
 * when a case failed; 2 for bad arguments or a model that cannot be used.
 */
import { parseArgs } from 'node:util';
import { checkModel } from '../src/agents/resolve-model.ts';
import { createModelPlanner } from '../src/plans/planner/model-planner.ts';
import { projectRecord } from '../src/state/record-fixtures.ts';
import { gradePlan, plannerCaseRequest, plannerCases } from './planner-cases.ts';

/** The model tried when none is given, by the key that is set. */
const defaultModels: ReadonlyArray<[variable: string, model: string]> = [
  ['ANTHROPIC_API_KEY', 'anthropic:claude-sonnet-4-5'],
  ['OPENAI_API_KEY', 'openai:gpt-5'],
  ['XAI_API_KEY', 'xai:grok-4'],
];

const { values } = parseArgs({
  options: { model: { type: 'string' }, case: { type: 'string', multiple: true } },
});
const model =
  values.model ?? defaultModels.find(([variable]) => process.env[variable])?.[1] ?? undefined;
if (!model) {
  process.stderr.write(
    `eval:planner: skipped: no model key set (${defaultModels.map(([variable]) => variable).join(', ')}); set one or give --model\n`,
  );
  process.exit(0);
}
try {
  checkModel(model, process.env, 'your environment');
} catch (error) {
  process.stderr.write(`eval:planner: ${(error as Error).message}\n`);
  process.exit(2);
}
const cases = plannerCases.filter((each) => !values.case || values.case.includes(each.name));
if (cases.length === 0) {
  process.stderr.write(
    `eval:planner: no such case; cases: ${plannerCases.map((each) => each.name).join(', ')}\n`,
  );
  process.exit(2);
}

const planner = createModelPlanner();
const rows: string[][] = [
  ['case', 'result', 'tickets', 'parallel', 'checks', 'deps', 'tries', 'tokens', 'cost', 'time'],
];
let failed = 0;
for (const plannerCase of cases) {
  const startedMs = performance.now();
  let tries = 0;
  try {
    const { spec, usage } = await planner({
      project: projectRecord(plannerCase.project.name, {
        owner: 'eval',
        ...plannerCase.project,
        commit: null,
      }),
      request: plannerCaseRequest(plannerCase),
      model,
      environment: process.env,
      onAttempt: (attempt) => {
        tries = attempt.attempt;
        if (!attempt.accepted)
          process.stderr.write(
            `${plannerCase.name}: try ${attempt.attempt} refused: ${attempt.message}\n`,
          );
      },
    });
    const grade = gradePlan(plannerCase, spec);
    if (!grade.passed) failed++;
    for (const problem of grade.problems) process.stderr.write(`${plannerCase.name}: ${problem}\n`);
    rows.push([
      plannerCase.name,
      grade.passed ? 'PASS' : 'FAIL',
      String(grade.tickets),
      String(grade.independent),
      `${grade.checkedCriteria}/${grade.codeCriteria}`,
      `${grade.dependenciesMet}/${plannerCase.dependencies.length}`,
      String(tries),
      String(usage.inputTokens + usage.outputTokens),
      `$${usage.costUsd.toFixed(4)}`,
      `${((performance.now() - startedMs) / 1000).toFixed(1)} s`,
    ]);
  } catch (error) {
    failed++;
    process.stderr.write(`${plannerCase.name}: ${(error as Error).message}\n`);
    rows.push([
      plannerCase.name,
      'FAIL',
      '-',
      '-',
      '-',
      '-',
      String(tries),
      '-',
      '-',
      `${((performance.now() - startedMs) / 1000).toFixed(1)} s`,
    ]);
  }
}
const widths =
  rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
process.stdout.write(`planner evaluation with ${model}\n`);
for (const row of rows)
  process.stdout.write(
    `${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')}\n`,
  );
process.exitCode = failed > 0 ? 1 : 0;
