/** Model ids and keys, roles, prices and the retry rules of the built-in agent. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { APICallError } from 'ai';
import { builtinRoles, resolveRole } from '../src/agents/builtin/builtin-roles.ts';
import {
  classifyProviderError,
  retryAfterMs,
  retryDelayMs,
} from '../src/agents/builtin/provider-retry.ts';
import {
  costOf,
  defaultPrices,
  modelFamily,
  priceOf,
  unpricedModelNotice,
} from '../src/agents/model-prices.ts';
import {
  checkModel,
  parseModelId,
  resolveModel,
  unreachableModelHint,
} from '../src/agents/resolve-model.ts';
import { InvalidInputError } from '../src/errors/mags-error.ts';

test('model ids: provider:model, split at the first colon', () => {
  assert.deepEqual(parseModelId('ollama:qwen3:8b'), { provider: 'ollama', model: 'qwen3:8b' });
  assert.throws(() => parseModelId('gpt-5'), InvalidInputError);
});

test('an unknown provider is an InvalidInputError listing the known ones', () => {
  assert.throws(
    () => checkModel('mistral:large', {}),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      /mistral/.test(error.message) &&
      /anthropic, openai, xai, ollama, lmstudio, openai-compatible/.test(error.hint ?? ''),
  );
});

test('a missing key names the variable and the alternatives', () => {
  assert.throws(
    () => checkModel('anthropic:claude-sonnet-4-5', { OPENAI_API_KEY: 'x' }),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      error.code === 'model_key_missing' &&
      /ANTHROPIC_API_KEY/.test(error.message) &&
      /openai \(OPENAI_API_KEY\)/.test(error.hint ?? '') &&
      /ollama \(OLLAMA_BASE_URL\)/.test(error.hint ?? ''),
  );
  checkModel('anthropic:claude-sonnet-4-5', { ANTHROPIC_API_KEY: 'sk-test' });
  checkModel('xai:grok-4', { XAI_API_KEY: 'xai-test' });
  // Local servers need no key; ollama and lmstudio have a default URL, a generic server not.
  checkModel('ollama:qwen3', {});
  checkModel('lmstudio:qwen3', {});
  assert.throws(() => checkModel('openai-compatible:llama', {}), /MAGS_OPENAI_COMPATIBLE_BASE_URL/);
  checkModel('openai-compatible:llama', { MAGS_OPENAI_COMPATIBLE_BASE_URL: 'http://h:8000/v1' });
});

test('resolveModel builds the provider’s model without any request', () => {
  const model = resolveModel('openai:gpt-5', { OPENAI_API_KEY: 'sk-test' });
  assert.equal(typeof model, 'object');
  assert.equal((model as { modelId: string }).modelId, 'gpt-5');
  const local = resolveModel('ollama:qwen3:8b', {});
  assert.equal((local as { modelId: string }).modelId, 'qwen3:8b');
  assert.throws(() => resolveModel('openai:gpt-5', {}), /OPENAI_API_KEY/);
});

test('roles: built-ins, a project’s own (always with finish), and a clear error', () => {
  assert.equal(resolveRole('developer').tools.length, 7);
  assert.ok(!resolveRole('reviewer').tools.includes('edit_file'));
  const own = resolveRole('docs', {
    docs: {
      systemPrompt: 'Write docs.',
      tools: ['read_file', 'write_file'],
      model: 'openai:gpt-5',
    },
  });
  assert.deepEqual(own.tools, ['read_file', 'write_file', 'finish']);
  assert.equal(own.model, 'openai:gpt-5');
  const overridden = resolveRole('developer', { developer: { systemPrompt: 'Ours.' } });
  assert.equal(overridden.systemPrompt, 'Ours.');
  assert.throws(
    () => resolveRole('architect', { docs: { systemPrompt: 'x' } }),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      /architect/.test(error.message) &&
      /docs, developer, tester, reviewer/.test(error.hint ?? ''),
  );
  assert.throws(() => resolveRole('constructor'), InvalidInputError);
  assert.equal(Object.keys(builtinRoles).length, 3);
});

test('costOf: the built-in table, extended and overridden by the task’s', () => {
  const usage = { inputTokens: 1_000_000, outputTokens: 100_000 };
  assert.equal(costOf('anthropic:claude-sonnet-4-5', usage), 3 + 1.5);
  assert.equal(costOf('ollama:qwen3', usage), 0);
  assert.equal(
    costOf('ollama:qwen3', usage, {
      'ollama:qwen3': { inputPerMillionUsd: 1, outputPerMillionUsd: 1 },
    }),
    1.1,
  );
  assert.equal(
    costOf('openai:gpt-5', usage, {
      'openai:gpt-5': { inputPerMillionUsd: 0, outputPerMillionUsd: 0 },
    }),
    0,
  );
  assert.equal(costOf('constructor', usage), 0);
  assert.ok(Object.keys(defaultPrices).length >= 8);
});

test('a dated model id is priced like its family; local models are free; others have no price', () => {
  assert.equal(modelFamily('anthropic:claude-sonnet-4-5-20250929'), 'anthropic:claude-sonnet-4-5');
  assert.equal(modelFamily('openai:gpt-4.1-2025-04-14'), 'openai:gpt-4.1');
  // Only a whole trailing date: version numbers and other suffixes stay.
  assert.equal(modelFamily('anthropic:claude-sonnet-4-5'), undefined);
  assert.equal(modelFamily('openai:gpt-5-2025'), undefined);
  assert.equal(modelFamily('openai:o3-20250416-preview'), undefined);
  const usage = { inputTokens: 1_000_000, outputTokens: 100_000 };
  assert.equal(costOf('anthropic:claude-sonnet-4-5-20250929', usage), 3 + 1.5);
  assert.equal(costOf('anthropic:claude-sonnet-4-20250514', usage), 3 + 1.5);
  assert.equal(costOf('openai:gpt-4o-mini-2024-07-18', usage), 0.15 + 0.06);
  // The dated id's own price wins over its family's, and a table's family over the built-in one.
  const table = {
    'anthropic:claude-sonnet-4-5-20250929': { inputPerMillionUsd: 1, outputPerMillionUsd: 1 },
    'openai:gpt-5': { inputPerMillionUsd: 2, outputPerMillionUsd: 0 },
  };
  assert.equal(costOf('anthropic:claude-sonnet-4-5-20250929', usage, table), 1.1);
  assert.equal(costOf('openai:gpt-5-2025-08-07', usage, table), 2);
  assert.deepEqual(priceOf('ollama:qwen3:8b'), { inputPerMillionUsd: 0, outputPerMillionUsd: 0 });
  assert.equal(priceOf('anthropic:claude-future-9'), undefined);
  assert.equal(unpricedModelNotice('ollama:qwen3:8b'), undefined);
  assert.equal(unpricedModelNotice('openai:gpt-5-2025-08-07'), undefined);
  assert.equal(
    unpricedModelNotice('anthropic:claude-future-9'),
    "no price for anthropic:claude-future-9; its cost counts as 0 — add it to MAGS_MODEL_PRICES or the project's prices",
  );
  assert.equal(
    unpricedModelNotice('anthropic:claude-future-9', {
      'anthropic:claude-future-9': { inputPerMillionUsd: 0, outputPerMillionUsd: 0 },
    }),
    undefined,
  );
});

test('retries: 429 and 5xx, Retry-After in seconds, as a date, or in ms; backoff otherwise', () => {
  const error = (statusCode: number, headers: Record<string, string> = {}) =>
    new APICallError({
      message: 'm',
      url: 'u',
      requestBodyValues: {},
      statusCode,
      responseHeaders: headers,
    });
  assert.equal(classifyProviderError(error(429)).retryable, true);
  assert.equal(classifyProviderError(error(503)).retryable, true);
  assert.equal(classifyProviderError(error(400)).retryable, false);
  assert.equal(classifyProviderError(error(401)).retryable, false);
  // The SDK calls 408/409 retryable; a provider's 409 is not what we retry.
  assert.equal(classifyProviderError(error(409)).retryable, false);
  assert.equal(classifyProviderError(new Error('bug')).retryable, false);
  assert.equal(retryAfterMs({ 'retry-after': '7' }), 7000);
  assert.equal(retryAfterMs({ 'retry-after-ms': '250', 'retry-after': '7' }), 250);
  const inAMinute = new Date(Date.now() + 60_000).toUTCString();
  const fromDate = retryAfterMs({ 'retry-after': inAMinute }) ?? 0;
  assert.ok(fromDate > 55_000 && fromDate <= 60_000, String(fromDate));
  const policy = { maxRetries: 5, initialDelayMs: 100, maxDelayMs: 1000 };
  const plain = classifyProviderError(error(500));
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((retry) => retryDelayMs(plain, retry, policy)),
    [100, 200, 400, 800, 1000],
  );
  assert.equal(
    retryDelayMs(classifyProviderError(error(429, { 'retry-after': '0.5' })), 3, policy),
    500,
  );
});

test('a model server that gave no answer: where it was looked for, and the variable that moves it', () => {
  const refused = new APICallError({
    message: 'Cannot connect to API: connect ECONNREFUSED 127.0.0.1:11434',
    url: 'http://127.0.0.1:11434/v1/chat/completions',
    requestBodyValues: {},
    isRetryable: true,
  });
  assert.equal(classifyProviderError(refused).unreachable, true);
  const answered = new APICallError({
    message: 'm',
    url: 'u',
    requestBodyValues: {},
    statusCode: 500,
  });
  assert.equal(classifyProviderError(answered).unreachable, false);
  assert.equal(
    unreachableModelHint('ollama:qwen3', {}),
    "is ollama's server running at http://127.0.0.1:11434/v1? (OLLAMA_BASE_URL sets another address)",
  );
  assert.equal(
    unreachableModelHint('lmstudio:m', { LMSTUDIO_BASE_URL: 'http://box:1234/v1' }),
    "is lmstudio's server running at http://box:1234/v1 (LMSTUDIO_BASE_URL)?",
  );
  // A hosted provider at its own address: nothing to point at.
  assert.equal(unreachableModelHint('anthropic:claude-sonnet-4-5', {}), undefined);
  assert.match(
    unreachableModelHint('anthropic:claude-sonnet-4-5', {
      ANTHROPIC_BASE_URL: 'http://proxy:8080',
    }) ?? '',
    /http:\/\/proxy:8080 \(ANTHROPIC_BASE_URL\)/,
  );
});
