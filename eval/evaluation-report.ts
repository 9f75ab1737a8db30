/** The evaluation's table and totals, as markdown (readable in a terminal and in a note). */
import type { Grade, GradeResult } from './grade.ts';

export interface EvaluationRow {
  fixture: string;
  ticket: string | null;
  /** The ticket's status when its agent and the platform's checks were done. */
  status: string;
  /** Null when the ticket never got to be graded (it failed before its agent ran). */
  grade: GradeResult | null;
  criteria: { met: number; total: number };
  steps: number;
  tokens: number;
  costUsd: number;
  durationMs: number;
  /** Why it could not be graded, or the ticket's reason. */
  note: string | null;
}

export function gradeOf(row: EvaluationRow): Grade {
  return row.grade?.grade ?? 'NO';
}

export function renderEvaluation(rows: readonly EvaluationRow[], model: string): string {
  const lines = [
    `## Evaluation: ${model}`,
    '',
    '| fixture | grade | FAIL_TO_PASS | PASS_TO_PASS | criteria met | status | steps | tokens | cost USD | duration s |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const counts = (part: { passed: number; total: number } | undefined) =>
      part ? `${part.passed}/${part.total}` : '-';
    lines.push(
      `| ${row.fixture} | ${gradeOf(row)} | ${counts(row.grade?.failToPass)} | ${counts(row.grade?.passToPass)} | ${row.criteria.met}/${row.criteria.total} | ${row.status} | ${row.steps} | ${row.tokens} | ${row.costUsd.toFixed(4)} | ${(row.durationMs / 1000).toFixed(1)} |`,
    );
  }
  const count = (grade: Grade) => rows.filter((row) => gradeOf(row) === grade).length;
  const total = (pick: (row: EvaluationRow) => number) =>
    rows.reduce((sum, row) => sum + pick(row), 0);
  const rate = rows.length === 0 ? 0 : (100 * count('FULL')) / rows.length;
  lines.push(
    '',
    `Resolved (FULL): ${count('FULL')}/${rows.length} = ${rate.toFixed(0)}%; PARTIAL ${count('PARTIAL')}, NO ${count('NO')}. Tokens ${total((row) => row.tokens)}, cost $${total((row) => row.costUsd).toFixed(4)}.`,
  );
  for (const row of rows.filter((row) => row.note)) lines.push(`- ${row.fixture}: ${row.note}`);
  return `${lines.join('\n')}\n`;
}
