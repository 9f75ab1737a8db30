import assert from 'node:assert/strict';
import test from 'node:test';
import {
  alwaysPasses,
  gradePlan,
  plannerCaseRequest,
  plannerCases,
} from '../eval/planner-cases.ts';
import { PlanSpecSchema } from '../src/api/plans.ts';

const byName = (name: string) => {
  const found = plannerCases.find((each) => each.name === name);
  assert.ok(found, name);
  return found;
};
const plannerCase = byName('health-endpoint');

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
    trivialChecks: 0,
    independent: 1,
    dependenciesMet: 0,
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

test('a check that always passes fails the case', () => {
  for (const check of [
    'true',
    ':',
    'exit 0',
    'exit',
    ' true; ',
    '/bin/true',
    'npm test || true',
    'grep -q x y; exit 0',
    'npm test || :',
  ]) {
    assert.equal(alwaysPasses(check), true, check);
  }
  for (const check of [
    'npm test',
    'test -f true',
    'grep -q true config.json',
    'exit 1',
    'true && npm test',
  ]) {
    assert.equal(alwaysPasses(check), false, check);
  }
  const trivial = PlanSpecSchema.parse({
    summary: 's',
    tickets: [ticket('endpoint', ['npm test', 'true']), ticket('docs', ['exit 0'])],
  });
  const grade = gradePlan(plannerCase, trivial);
  assert.equal(grade.passed, false);
  assert.equal(grade.trivialChecks, 2);
  assert.equal(grade.checkedCriteria, 1);
  assert.deepEqual(grade.problems, [
    'endpoint: criterion 2 ("criterion 2") has a check that always passes: true',
    'docs: criterion 1 ("criterion 1") has a check that always passes: exit 0',
  ]);
});

test('expected dependencies are graded: required ones held, parallel ones not serialised', () => {
  const config = byName('config-then-use');
  const titled = (key: string, title: string, extra: object = {}) => ({
    ...ticket(key, ['npm test']),
    title,
    ...extra,
  });
  const ordered = PlanSpecSchema.parse({
    summary: 's',
    tickets: [
      titled('config-module', 'Add src/config.ts reading API_URL'),
      titled('config-tests', 'Test the config module', { dependsOn: ['config-module'] }),
      // Through another ticket counts too.
      titled('use-config', 'Make the api module use config', { dependsOn: ['config-tests'] }),
    ],
  });
  assert.equal(gradePlan(config, ordered).dependenciesMet, 1);
  assert.equal(gradePlan(config, ordered).passed, true);
  const parallel = PlanSpecSchema.parse({
    summary: 's',
    tickets: [
      titled('config-module', 'Add src/config.ts reading API_URL'),
      titled('use-config', 'Make the api module use config'),
    ],
  });
  const unordered = gradePlan(config, parallel);
  assert.equal(unordered.passed, false);
  assert.equal(unordered.dependenciesMet, 0);
  assert.match(
    unordered.problems[0] ?? '',
    /no ticket matching .*api.* depends on one matching .*config/,
  );

  const flags = byName('two-cli-flags');
  const independent = PlanSpecSchema.parse({
    summary: 's',
    tickets: [
      titled('json-flag', 'Add --json to list'),
      titled('quiet-flag', 'Add --quiet to sync'),
      // A last ticket about both may wait for both.
      titled('docs', 'Document --json and --quiet', { dependsOn: ['json-flag', 'quiet-flag'] }),
    ],
  });
  assert.deepEqual(gradePlan(flags, independent).problems, []);
  assert.equal(gradePlan(flags, independent).dependenciesMet, 2);
  const serialised = PlanSpecSchema.parse({
    summary: 's',
    tickets: [
      titled('json-flag', 'Add --json to list'),
      titled('quiet-flag', 'Add --quiet to sync', { dependsOn: ['json-flag'] }),
    ],
  });
  assert.deepEqual(gradePlan(flags, serialised).problems, [
    'quiet-flag depends on json-flag, but the two flags are independent: they should run in parallel',
  ]);
});

test('a case’s project names a repository, and its description goes in the request', () => {
  for (const each of plannerCases) {
    assert.match(each.project.repo, /^https:\/\/\S+\.git$/, each.name);
    assert.ok(plannerCaseRequest(each).startsWith(`The project is ${each.description}.\n\n`));
    assert.ok(plannerCaseRequest(each).endsWith(each.request));
  }
});
