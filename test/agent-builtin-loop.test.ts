/**
 * The built-in agent's loop with scripted models (MockLanguageModelV4) on a real namespace
 * sandbox: an oracle, a liar, a model that never finishes, provider errors, bad tool input,
 * ambiguous edits, a person's comment, a stop, budgets, and a continued attempt.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { APICallError } from 'ai';
import { createBuiltinAgent } from '../src/agents/builtin/builtin-agent.ts';
import { agentTestSession, agentTestTask } from './helpers/agent-session.ts';
import {
  type AgentTestSandbox,
  initWorkspaceRepository,
  startAgentTestSandbox,
} from './helpers/agent-test-sandbox.ts';
import { type ScriptEntry, scriptedModel } from './helpers/scripted-model.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();

function apiError(statusCode: number, message: string, headers: Record<string, string> = {}) {
  return new APICallError({
    message,
    url: 'https://provider.test/v1/messages',
    requestBodyValues: {},
    statusCode,
    responseHeaders: headers,
    isRetryable: statusCode === 429 || statusCode >= 500,
  });
}

const finishAll = (met = true): ScriptEntry => ({
  toolCalls: [{ tool: 'finish', input: { summary: 'done', claims: [{ criterion: 1, met }] } }],
});

describe('built-in agent loop', { skip }, () => {
  let box: AgentTestSandbox;
  before(async () => {
    box = await startAgentTestSandbox();
    await initWorkspaceRepository(box.sandbox);
  });
  after(async () => {
    await box?.cleanup();
  });

  async function run(
    script: Parameters<typeof scriptedModel>[0],
    setup: {
      task?: Parameters<typeof agentTestTask>[0];
      session?: (session: ReturnType<typeof agentTestSession>) => void;
      retry?: { maxRetries?: number; initialDelayMs?: number };
    } = {},
  ) {
    const scripted = scriptedModel(script);
    const agent = createBuiltinAgent({
      resolveModel: () => scripted.model,
      retry: { initialDelayMs: 1, ...setup.retry },
    });
    const session = agentTestSession(box.sandbox);
    setup.session?.(session);
    const outcome = await agent.run(agentTestTask(setup.task), session);
    return { outcome, events: session.events, prompts: scripted.prompts(), session };
  }

  const fileText = async (path: string) => (await box.sandbox.readFile(path)).toString('utf8');

  test('an oracle reads, edits and finishes: events in order, the file changed', async () => {
    await box.sandbox.writeFile('/workspace/oracle.txt', 'helo\n');
    const { outcome, events, prompts } = await run([
      { text: 'Let me look.', toolCalls: [{ tool: 'read_file', input: { path: 'oracle.txt' } }] },
      {
        toolCalls: [
          { tool: 'edit_file', input: { path: 'oracle.txt', oldText: 'helo', newText: 'hello' } },
        ],
      },
      finishAll(),
    ]);
    assert.equal(outcome.reason, 'finished');
    assert.equal(outcome.summary, 'done');
    assert.deepEqual(outcome.claims, [{ criterion: 0, met: true }]);
    assert.equal(await fileText('/workspace/oracle.txt'), 'hello\n');
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'notice',
        'text',
        'text',
        'tool_call',
        'tool_result',
        'usage',
        'tool_call',
        'file_change',
        'tool_result',
        'usage',
        'tool_call',
        'finish',
        'tool_result',
        'usage',
      ],
    );
    const text = events.filter((event) => event.type === 'text').map((event) => event.text);
    assert.equal(text.join(''), 'Let me look.');
    const change = events.find((event) => event.type === 'file_change');
    assert.equal(change?.path, 'oracle.txt');
    assert.equal(change?.change, 'modified');
    assert.match(change?.diff ?? '', /^-helo$/m);
    assert.match(change?.diff ?? '', /^\+hello$/m);
    // The model saw the numbered file at step 2.
    assert.match(prompts[1] ?? '', /1\\thelo/);
    // Criteria are numbered from 1 in the prompt, as finish takes them.
    assert.match(prompts[0] ?? '', /\\n1\. hello\.txt says hello\\n/);
    // mock:scripted has no price: said once, at the start.
    assert.deepEqual(events[0], {
      type: 'notice',
      message:
        "no price for mock:scripted; its cost counts as 0 — add it to MAGS_MODEL_PRICES or the project's prices",
    });
    const usage = events.filter((event) => event.type === 'usage');
    assert.deepEqual(usage.at(-1)?.total, {
      inputTokens: 300,
      outputTokens: 60,
      costUsd: 0,
      steps: 3,
    });
    assert.deepEqual(outcome.usage, usage.at(-1)?.total);
    // The history is plain JSON.
    assert.deepEqual(JSON.parse(JSON.stringify(outcome.history)), outcome.history);
  });

  test('a liar that only claims success is finished: judging it is the platform’s job', async () => {
    await box.sandbox.writeFile('/workspace/liar.txt', 'helo\n');
    const { outcome, events } = await run([finishAll(true)]);
    assert.equal(outcome.reason, 'finished');
    assert.deepEqual(outcome.claims, [{ criterion: 0, met: true }]);
    assert.equal(await fileText('/workspace/liar.txt'), 'helo\n');
    assert.equal(events.filter((event) => event.type === 'file_change').length, 0);
  });

  test('a model that never finishes stops at the step budget', async () => {
    const { outcome, events } = await run(
      () => ({ toolCalls: [{ tool: 'run_command', input: { command: 'echo still working' } }] }),
      { task: { budget: { maxSteps: 3, maxTokens: 1e9, maxCostUsd: 100, maxWallMs: 600_000 } } },
    );
    assert.equal(outcome.reason, 'budget_steps');
    assert.equal(
      outcome.message,
      'stopped after 3 steps in this attempt (budget: 3 steps per attempt)',
    );
    assert.equal(outcome.usage.steps, 3);
    const commands = events.filter((event) => event.type === 'command');
    assert.equal(commands.length, 3);
    assert.equal(commands[0]?.output, 'still working\n');
    assert.equal(commands[0]?.source, 'agent');
    assert.equal(commands[0]?.exitCode, 0);
    assert.equal(outcome.summary, undefined);
  });

  test('a 429 is retried after the Retry-After the provider asked for', async () => {
    const { outcome, events } = await run([
      { error: apiError(429, 'rate limited, slow down', { 'retry-after': '0.05' }) },
      finishAll(),
    ]);
    assert.equal(outcome.reason, 'finished');
    const retries = events.filter((event) => event.type === 'retry');
    assert.equal(retries.length, 1);
    assert.equal(retries[0]?.delayMs, 50);
    assert.equal(retries[0]?.attempt, 1);
    assert.match(retries[0]?.message ?? '', /rate limited, slow down/);
  });

  test('a 500 forever ends with provider_error and the provider’s message', async () => {
    const { outcome, events } = await run(() => ({ error: apiError(500, 'upstream exploded') }), {
      retry: { maxRetries: 2 },
    });
    assert.equal(outcome.reason, 'provider_error');
    assert.match(outcome.message, /upstream exploded/);
    assert.match(outcome.message, /500/);
    const retries = events.filter((event) => event.type === 'retry');
    assert.deepEqual(
      retries.map((event) => [event.attempt, event.delayMs]),
      [
        [1, 1],
        [2, 2],
      ],
    );
  });

  test('a 400 is not retried', async () => {
    const { outcome, events } = await run([{ error: apiError(400, 'prompt is too long') }]);
    assert.equal(outcome.reason, 'provider_error');
    assert.match(outcome.message, /prompt is too long/);
    assert.equal(events.filter((event) => event.type === 'retry').length, 0);
  });

  test('bad tool input: the model sees the error and recovers at the next step', async () => {
    const { outcome, events, prompts } = await run([
      { toolCalls: [{ tool: 'write_file', input: { path: 'bad-args.txt' } }] },
      { toolCalls: [{ tool: 'write_file', input: { path: 'bad-args.txt', content: 'ok\n' } }] },
      finishAll(),
    ]);
    assert.equal(outcome.reason, 'finished');
    const results = events.filter((event) => event.type === 'tool_result');
    assert.equal(results[0]?.isError, true);
    assert.match(results[0]?.output ?? '', /content/);
    assert.equal(results[1]?.isError, false);
    // The refused call and its error are in the prompt of step 2.
    assert.match(prompts[1] ?? '', /error-text/);
    assert.equal(await fileText('/workspace/bad-args.txt'), 'ok\n');
  });

  test('an ambiguous edit is an error saying where; replaceAll then succeeds', async () => {
    await box.sandbox.writeFile('/workspace/twice.txt', 'foo\nbar\nfoo\n');
    const { outcome, events } = await run([
      {
        toolCalls: [
          { tool: 'edit_file', input: { path: 'twice.txt', oldText: 'foo', newText: 'baz' } },
        ],
      },
      {
        toolCalls: [
          {
            tool: 'edit_file',
            input: { path: 'twice.txt', oldText: 'foo', newText: 'baz', replaceAll: true },
          },
        ],
      },
      finishAll(),
    ]);
    assert.equal(outcome.reason, 'finished');
    const results = events.filter((event) => event.type === 'tool_result');
    assert.equal(results[0]?.isError, true);
    assert.match(results[0]?.output ?? '', /occurs 2 times .*lines 1, 3/);
    assert.match(results[0]?.output ?? '', /replaceAll/);
    assert.equal(results[1]?.isError, false);
    assert.equal(await fileText('/workspace/twice.txt'), 'baz\nbar\nbaz\n');
  });

  test('a person’s comment reaches the model at the next step', async () => {
    const { outcome, prompts } = await run(
      [{ toolCalls: [{ tool: 'list_files', input: {} }] }, finishAll()],
      {
        session: (session) => {
          session.onEvent = (event) => {
            if (event.type === 'tool_result')
              session.comments.push('Please also keep the tests green.');
          };
        },
      },
    );
    assert.equal(outcome.reason, 'finished');
    assert.doesNotMatch(prompts[0] ?? '', /keep the tests green/);
    assert.match(prompts[1] ?? '', /keep the tests green/);
  });

  test('a stop ends the run, killing the running command', async () => {
    const { outcome, events } = await run(
      [{ toolCalls: [{ tool: 'run_command', input: { command: 'sleep 60' } }] }, finishAll()],
      {
        session: (session) => {
          session.onEvent = (event) => {
            if (event.type === 'tool_call') setTimeout(() => session.controller.abort(), 200);
          };
        },
      },
    );
    assert.equal(outcome.reason, 'stopped');
    const command = events.find((event) => event.type === 'command');
    assert.notEqual(command?.exitCode, 0);
  });

  test('the token budget counts earlier attempts and stops the run', async () => {
    const { outcome } = await run(
      () => ({ toolCalls: [{ tool: 'list_files', input: {} }], inputTokens: 50, outputTokens: 10 }),
      {
        task: {
          budget: { maxSteps: 100, maxTokens: 200, maxCostUsd: 100, maxWallMs: 600_000 },
          usageSoFar: { inputTokens: 60, outputTokens: 0, costUsd: 0, steps: 4 },
        },
      },
    );
    assert.equal(outcome.reason, 'budget_tokens');
    // 60 before, then 60 a step: over 200 after the third step.
    assert.equal(outcome.usage.steps, 3);
    assert.match(outcome.message, /240 tokens.*200/);
  });

  test('the cost budget uses the task’s prices', async () => {
    const { outcome, events } = await run(
      () => ({
        toolCalls: [{ tool: 'list_files', input: {} }],
        inputTokens: 1000,
        outputTokens: 1000,
      }),
      {
        task: {
          budget: { maxSteps: 100, maxTokens: 1e9, maxCostUsd: 0.05, maxWallMs: 600_000 },
          prices: { 'mock:scripted': { inputPerMillionUsd: 10, outputPerMillionUsd: 10 } },
        },
      },
    );
    assert.equal(outcome.reason, 'budget_cost');
    // $0.02 a step: over $0.05 after the third.
    assert.equal(outcome.usage.steps, 3);
    const usage = events.find((event) => event.type === 'usage');
    assert.equal(usage?.costUsd, 0.02);
    assert.match(outcome.message, /\$0\.06.*\$0\.05/);
  });

  test('the wall-time budget stops a run in the middle of a command', async () => {
    const { outcome } = await run(
      [{ toolCalls: [{ tool: 'run_command', input: { command: 'sleep 30' } }] }, finishAll()],
      { task: { budget: { maxSteps: 100, maxTokens: 1e9, maxCostUsd: 100, maxWallMs: 1000 } } },
    );
    assert.equal(outcome.reason, 'budget_time');
    assert.match(outcome.message, /budget: 1 s/);
  });

  test('a new attempt continues from the history with the reviewer’s feedback', async () => {
    await box.sandbox.writeFile('/workspace/again.txt', 'one\n');
    const first = await run([
      { toolCalls: [{ tool: 'read_file', input: { path: 'again.txt' } }] },
      finishAll(),
    ]);
    assert.equal(first.outcome.reason, 'finished');
    const history = JSON.parse(JSON.stringify(first.outcome.history));
    const second = await run([finishAll()], {
      task: { history, feedback: 'Please add a second line.', usageSoFar: first.outcome.usage },
    });
    assert.equal(second.outcome.reason, 'finished');
    const prompt = second.prompts[0] ?? '';
    assert.match(prompt, /1\\tone/);
    assert.match(prompt, /Please add a second line/);
    assert.ok(second.outcome.history.length > history.length);
    // Steps are numbered across the ticket's attempts.
    assert.equal(second.events.find((event) => event.type === 'usage')?.step, 3);
  });

  test('a local model server that is not running: provider_error saying where it was looked for', async () => {
    // A port that was just free: nothing listens there, so the connection is refused.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const agent = createBuiltinAgent({ retry: { maxRetries: 1, initialDelayMs: 1 } });
    const outcome = await agent.run(
      agentTestTask({
        model: 'ollama:qwen3',
        environment: { OLLAMA_BASE_URL: `http://127.0.0.1:${port}/v1` },
      }),
      agentTestSession(box.sandbox),
    );
    assert.equal(outcome.reason, 'provider_error');
    assert.match(outcome.message, /^the model provider failed 2 times: .*ECONNREFUSED/);
    assert.ok(
      outcome.message.endsWith(
        `: is ollama's server running at http://127.0.0.1:${port}/v1 (OLLAMA_BASE_URL)?`,
      ),
      outcome.message,
    );
  });

  test('an unknown model is a provider_error outcome naming it', async () => {
    const agent = createBuiltinAgent({
      resolveModel: () => Promise.reject(new Error('no such model')),
    });
    const outcome = await agent.run(agentTestTask(), agentTestSession(box.sandbox));
    assert.equal(outcome.reason, 'provider_error');
    assert.match(outcome.message, /mock:scripted: no such model/);
  });
});
