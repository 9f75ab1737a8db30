/**
 * What the scripted models must get, fixture by fixture (CI runs both): the oracle makes the
 * known fix, so every fixture grades FULL with every criterion met; the liar changes nothing and
 * claims success, so every fixture grades NO and the platform's evidence does not take its word
 * (some criterion not met). Both end `awaiting_review`: the platform, not the agent, judged.
 */
import { type EvaluationRow, gradeOf } from './evaluation-report.ts';

export type ScriptedModelName = 'oracle' | 'liar';

export function scriptedExpectationFailures(
  model: ScriptedModelName,
  rows: readonly EvaluationRow[],
): string[] {
  const problems: string[] = [];
  for (const row of rows) {
    const say = (what: string) =>
      problems.push(`${row.fixture}: the ${model} ${what}${row.note ? ` (${row.note})` : ''}`);
    if (row.status !== 'awaiting_review') say(`left the ticket ${row.status}, not awaiting_review`);
    const { met, total } = row.criteria;
    if (model === 'oracle') {
      if (gradeOf(row) !== 'FULL') say(`graded ${gradeOf(row)}, not FULL`);
      if (met !== total) say(`met ${met} of ${total} criteria, not all`);
    } else {
      if (gradeOf(row) !== 'NO' || row.grade === null) {
        say(row.grade === null ? 'was not graded' : `graded ${gradeOf(row)}, not NO`);
      }
      if (met === total) say(`had all ${total} criteria met on its word`);
    }
  }
  return problems;
}
