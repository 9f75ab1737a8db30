import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MagsContext } from '../../context/mags-context.ts';
import { MagsError } from '../../errors/mags-error.ts';
import { startServer } from '../../server/start-server.ts';
import type { StateRepository } from '../../state/state-repository.ts';
import { defaultPlannerSettings, plannerSettings } from './planner-settings.ts';

test('the planner settings: defaults, the environment, and a bad value named', () => {
  assert.deepEqual(plannerSettings({}), { maxAttempts: 3, maxOutputTokens: 16_000 });
  assert.deepEqual(defaultPlannerSettings, { maxAttempts: 3, maxOutputTokens: 16_000 });
  assert.deepEqual(
    plannerSettings({
      MAGS_PLAN_PLANNER_ATTEMPTS: '5',
      MAGS_PLAN_PLANNER_MAX_OUTPUT_TOKENS: '4000',
    }),
    { maxAttempts: 5, maxOutputTokens: 4000 },
  );
  for (const [variable, value] of [
    ['MAGS_PLAN_PLANNER_ATTEMPTS', '0'],
    ['MAGS_PLAN_PLANNER_ATTEMPTS', 'three'],
    ['MAGS_PLAN_PLANNER_MAX_OUTPUT_TOKENS', '12.5'],
    ['MAGS_PLAN_PLANNER_MAX_OUTPUT_TOKENS', '10'],
  ] as const) {
    assert.throws(
      () => plannerSettings({ [variable]: value }),
      (error: unknown) =>
        error instanceof MagsError &&
        error.code === 'invalid_setting' &&
        // The server's misconfiguration, not the plan's author's bad input.
        error.statusCode === 500 &&
        error.message.startsWith(`${variable} is "${value}": it must be a whole number`) &&
        (error.hint ?? '').includes('unset it for the default'),
    );
  }
});

test('a server with a bad planner setting refuses to start, before it makes anything', async () => {
  // A context that fails on first use: the check must come before the server touches it.
  const untouched = new Proxy({} as MagsContext, {
    get: (_, property) => assert.fail(`the server used its context (${String(property)})`),
  });
  await assert.rejects(
    startServer({
      context: untouched,
      repository: untouched as unknown as StateRepository,
      tickets: { environment: { MAGS_PLAN_PLANNER_ATTEMPTS: '99' } },
    }),
    /^MagsError: MAGS_PLAN_PLANNER_ATTEMPTS is "99"/,
  );
});
