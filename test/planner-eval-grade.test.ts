import assert from 'node:assert/strict';
import test from 'node:test';
import { gradePlan, plannerCases } from '../eval/planner-cases.ts';
import { PlanSpecSchema } from '../src/api/plans.ts';

const plannerCase = plannerCases[0] as (typeof plannerCases)[number];

const ticket = (key: string, checks: Array<string | undefined>, extra: object = {}) => ({
  key,
  title: key,
  request: key,
  criteria: checks.map((check, index) => ({
    text: `criterion ${index + 1}`,
    ...(check ? { check } : {}),
  })),
  ...extra,
});

test('the planner eval passes a plan of checked tickets and names what fails', () => {
  const good = PlanSpecSchema.parse({
    summary: 's',
    tickets: [
      ticket('endpoint', ['npm test']),
      ticket('docs', ['grep -q /health README.md'], { dependsOn: ['endpoint'] }),
      // A reviewer's criteria need a person: not counted.
      ticket('review', [undefined], { role: 'reviewer', dependsOn: ['endpoint'] }),
    ],
  });
  const grade = gradePlan(plannerCase, good);
  assert.deepEqual(grade, {
    passed: true,
    tickets: 3,
    codeCriteria: 2,
    checkedCriteria: 2,
    independent: 1,
    problems: [],
  });

  const unchecked = PlanSpecSchema.parse({
    summary: 's',
    tickets: [ticket('endpoint', ['npm test', undefined])],
  });
  const failed = gradePlan(plannerCase, unchecked);
  assert.equal(failed.passed, false);
  assert.deepEqual(failed.problems, [
    '1 ticket(s), at least 2 expected',
    'endpoint: criterion 2 ("criterion 2") has no check',
  ]);
});
