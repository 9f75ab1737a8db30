import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APICallError } from 'ai';
import type { MockLanguageModelV4 } from 'ai/test';
import { projectRecord } from '../../../test/helpers/project-record.ts';
import { scriptedPlannerModel } from '../../../test/helpers/scripted-planner-model.ts';
import { MagsError } from '../../errors/mags-error.ts';
import { createModelPlanner } from './model-planner.ts';
import { PlannerRefusedError } from './planner-answer.ts';

const scriptedPlanner = scriptedPlannerModel;

const validPlan = {
  summary: 'Dark mode: a flag, then styles that use it.',
  tickets: [
    {
      key: 'dark-flag',
      title: 'Add --dark',
      request: 'Add a --dark flag to the CLI that sets theme=dark.',
      criteria: [
        { text: 'npm test passes', check: 'npm test' },
        { text: 'The README mentions --dark', check: null },
      ],
      role: null,
      dependsOn: [],
    },
    {
      key: 'dark-styles',
      title: 'Dark styles',
      request: 'Write dark.css and load it when theme=dark.',
      criteria: [{ text: 'dark.css exists', check: 'test -f dark.css' }],
      role: 'developer',
      dependsOn: ['dark-flag'],
    },
  ],
};

const cyclicPlan = {
  summary: 'A cycle.',
  tickets: [
    { ...validPlan.tickets[0], dependsOn: ['dark-styles'] },
    { ...validPlan.tickets[1], dependsOn: ['dark-flag'] },
  ],
};

function run(
  model: MockLanguageModelV4,
  options: { maxAttempts?: number; modelId?: string; environment?: NodeJS.ProcessEnv } = {},
) {
  const attempts: Array<{ attempt: number; accepted: boolean; message: string }> = [];
  const resolved: string[] = [];
  const planner = createModelPlanner({
    resolveLanguageModel: (id) => {
      resolved.push(id);
      return model;
    },
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    maxRetries: 0,
  });
  const result = planner({
    project: projectRecord('app', { test: 'npm test' }),
    request: 'Add dark mode',
    model: options.modelId ?? 'anthropic:claude-sonnet-4-5',
    environment: options.environment ?? {},
    onAttempt: (attempt) => attempts.push(attempt),
  });
  return { result, attempts, resolved };
}

describe('the model planner (scripted models)', () => {
  test('a valid plan is the spec, nulls read as none, usage and cost counted', async () => {
    const { model, prompts } = scriptedPlanner([JSON.stringify(validPlan)]);
    const { result, attempts, resolved } = run(model);
    const { spec, usage } = await result;
    assert.deepEqual(resolved, ['anthropic:claude-sonnet-4-5']);
    assert.equal(spec.tickets.length, 2);
    assert.deepEqual(spec.tickets[0]?.criteria, [
      { text: 'npm test passes', check: 'npm test' },
      { text: 'The README mentions --dark' },
    ]);
    assert.equal(spec.tickets[0]?.role, undefined);
    assert.equal(spec.tickets[1]?.role, 'developer');
    assert.deepEqual(spec.tickets[1]?.dependsOn, ['dark-flag']);
    // 1000 in at $3/M, 200 out at $15/M.
    assert.deepEqual(usage, { inputTokens: 1000, outputTokens: 200, costUsd: 0.006, steps: 1 });
    assert.deepEqual(attempts, [{ attempt: 1, accepted: true, message: 'a plan of 2 tickets' }]);
    // The model was asked for JSON by schema, told the project's test command and roles.
    const call = model.doGenerateCalls[0];
    assert.equal(call?.responseFormat?.type, 'json');
    assert.ok(call?.responseFormat?.type === 'json' && call.responseFormat.schema);
    assert.match(prompts()[0] ?? '', /Test command \(run in \/workspace\): npm test/);
    assert.match(prompts()[0] ?? '', /- reviewer: /);
    assert.match(prompts()[0] ?? '', /Add dark mode/);
  });

  test('invalid JSON is refused with the JSON error, the model asked again, then accepted', async () => {
    const { model, prompts } = scriptedPlanner([
      '{"summary": "oops", "tickets": [',
      `\`\`\`json\n${JSON.stringify(validPlan)}\n\`\`\``,
    ]);
    const { result, attempts } = run(model);
    const { spec, usage } = await result;
    assert.equal(spec.tickets.length, 2);
    assert.equal(attempts.length, 2);
    assert.equal(attempts[0]?.accepted, false);
    assert.match(attempts[0]?.message ?? '', /^the answer is not valid JSON \(.+\)\.$/);
    assert.deepEqual(attempts[1], { attempt: 2, accepted: true, message: 'a plan of 2 tickets' });
    assert.equal(usage.steps, 2);
    assert.equal(usage.inputTokens, 2000);
    assert.equal(usage.outputTokens, 400);
    // The second call saw the refused answer and the exact reason.
    const second = prompts()[1] ?? '';
    assert.ok(second.includes(JSON.stringify('{"summary": "oops", "tickets": [').slice(1, -1)));
    assert.ok(second.includes(JSON.stringify(attempts[0]?.message).slice(1, -1)));
  });

  test('a cycle three times is refused by name three times, then PlannerRefusedError', async () => {
    const answer = JSON.stringify(cyclicPlan);
    const { model, prompts } = scriptedPlanner([answer, answer, answer]);
    const { result, attempts } = run(model);
    const error = await result.then(
      () => assert.fail('a cyclic plan was accepted'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof PlannerRefusedError);
    assert.equal(error.code, 'planner_refused');
    assert.equal(error.attempts, 3);
    assert.match(
      error.message,
      /refused 3 times\. The last reason: .*cycle: dark-flag → dark-styles → dark-flag/,
    );
    assert.ok(error.hint);
    const { costUsd, ...tokens } = error.usage;
    assert.deepEqual(tokens, { inputTokens: 3000, outputTokens: 600, steps: 3 });
    assert.ok(Math.abs(costUsd - 0.018) < 1e-12, `cost ${costUsd}`);
    assert.deepEqual(
      attempts.map((each) => [each.attempt, each.accepted]),
      [
        [1, false],
        [2, false],
        [3, false],
      ],
    );
    for (const each of attempts)
      assert.match(each.message, /cycle: dark-flag → dark-styles → dark-flag/);
    assert.equal(prompts().length, 3);
  });

  test('schema problems, unknown dependencies and roles are each refused with their reason', async () => {
    const noCriteria = { ...validPlan, tickets: [{ ...validPlan.tickets[0], criteria: [] }] };
    const unknownDependency = {
      ...validPlan,
      tickets: [{ ...validPlan.tickets[0], dependsOn: ['nope'] }],
    };
    const unknownRole = { ...validPlan, tickets: [{ ...validPlan.tickets[0], role: 'wizard' }] };
    const badKey = { ...validPlan, tickets: [{ ...validPlan.tickets[0], key: 'Dark Flag' }] };
    const { model } = scriptedPlanner(
      [noCriteria, unknownDependency, unknownRole, badKey, validPlan].map((each) =>
        JSON.stringify(each),
      ),
    );
    const { result, attempts } = run(model, { maxAttempts: 5 });
    await result;
    assert.deepEqual(
      attempts.map((each) => each.accepted),
      [false, false, false, false, true],
    );
    assert.match(
      attempts[0]?.message ?? '',
      /tickets\[0\]\.criteria: a ticket needs at least one criterion/,
    );
    assert.match(
      attempts[1]?.message ?? '',
      /dark-flag depends on nope, which is not a ticket of the plan/,
    );
    assert.match(
      attempts[2]?.message ?? '',
      /tickets\[0\]\.role: Unknown role "wizard"\. Known roles: developer, tester, reviewer/,
    );
    assert.match(attempts[3]?.message ?? '', /tickets\[0\]\.key: a ticket key is/);
  });

  test('a project role is accepted, and the project prices the planner model', async () => {
    const plan = { ...validPlan, tickets: [{ ...validPlan.tickets[0], role: 'docs-writer' }] };
    const { model } = scriptedPlanner([JSON.stringify(plan)]);
    const planner = createModelPlanner({ resolveLanguageModel: () => model, maxRetries: 0 });
    const { spec, usage } = await planner({
      project: projectRecord('app', {
        config: {
          roles: { 'docs-writer': { systemPrompt: 'You write docs.' } },
          prices: { 'acme:big': { inputPerMillionUsd: 10, outputPerMillionUsd: 0 } },
        },
      }),
      request: 'Document it',
      model: 'acme:big',
      environment: {},
      onAttempt: () => {},
    });
    assert.equal(spec.tickets[0]?.role, 'docs-writer');
    assert.equal(usage.costUsd, 0.01);
  });

  test('a provider error, after the SDK retries, is the provider error in words', async () => {
    const failure = new APICallError({
      message: 'Overloaded',
      url: 'https://api.example/v1',
      requestBodyValues: {},
      statusCode: 529,
      isRetryable: true,
    });
    const { model } = scriptedPlanner([{ error: failure }, { error: failure }]);
    const planner = createModelPlanner({ resolveLanguageModel: () => model, maxRetries: 1 });
    const error = await planner({
      project: projectRecord('app'),
      request: 'r',
      model: 'anthropic:claude-sonnet-4-5',
      environment: {},
      onAttempt: () => assert.fail('no try was reported'),
    }).then(
      () => assert.fail('the planner succeeded'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof MagsError);
    assert.equal(error.code, 'planner_provider_error');
    assert.equal(error.retryable, true);
    assert.match(
      error.message,
      /anthropic:claude-sonnet-4-5 failed 2 times: Overloaded \(HTTP 529\)/,
    );
    assert.equal(model.doGenerateCalls.length, 2);
  });

  test('a missing key is the resolver’s clear error, before any call', async () => {
    const planner = createModelPlanner();
    await assert.rejects(
      planner({
        project: projectRecord('app'),
        request: 'r',
        model: 'openai:gpt-5',
        environment: {},
        onAttempt: () => {},
      }),
      /OPENAI_API_KEY, which is not set/,
    );
  });

  test('MAGS_PLAN_PLANNER_ATTEMPTS sets the tries', async () => {
    const { model } = scriptedPlanner(['not json']);
    const { result, attempts } = run(model, { environment: { MAGS_PLAN_PLANNER_ATTEMPTS: '1' } });
    await assert.rejects(result, PlannerRefusedError);
    assert.equal(attempts.length, 1);
  });
});
