/**
 * The built-in agent across a ticket's attempts, with scripted models on a real namespace
 * sandbox: steps are a budget per attempt while tokens and cost add up over the ticket; the
 * conversation is saved after every step; an unpriced model is said once per attempt; the model
 * is resolved with the task's environment, not the process's.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createBuiltinAgent } from '../src/agents/builtin/builtin-agent.ts';
import { agentTestSession, agentTestTask } from './helpers/agent-session.ts';
import { type AgentTestSandbox, startAgentTestSandbox } from './helpers/agent-test-sandbox.ts';
import { type ScriptEntry, scriptedModel } from './helpers/scripted-model.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();

const listing: ScriptEntry = { toolCalls: [{ tool: 'list_files', input: {} }] };
const finishing: ScriptEntry = {
  toolCalls: [
    { tool: 'finish', input: { summary: 'done', claims: [{ criterion: 1, met: true }] } },
  ],
};
const budget = { maxSteps: 3, maxTokens: 1e9, maxCostUsd: 100, maxWallMs: 600_000 };

describe('the built-in agent over a ticket’s attempts', { skip }, () => {
  let box: AgentTestSandbox;
  before(async () => {
    box = await startAgentTestSandbox();
  });
  after(async () => {
    await box?.cleanup();
  });

  async function attempt(
    script: Parameters<typeof scriptedModel>[0],
    task: Parameters<typeof agentTestTask>[0],
    configure?: (session: ReturnType<typeof agentTestSession>) => void,
  ) {
    const scripted = scriptedModel(script);
    const agent = createBuiltinAgent({ resolveModel: () => scripted.model });
    const session = agentTestSession(box.sandbox);
    configure?.(session);
    const outcome = await agent.run(agentTestTask(task), session);
    return { outcome, events: session.events, prompts: scripted.prompts() };
  }

  test('a request-changes attempt after a step-budget stop gets its own steps', async () => {
    const first = await attempt(() => listing, { budget });
    assert.equal(first.outcome.reason, 'budget_steps');
    assert.equal(first.outcome.usage.steps, 3);
    // The ticket's usage now holds 3 steps, as much as the budget: the next attempt still works
    // 2 steps and finishes, instead of stopping at once.
    const second = await attempt([listing, finishing], {
      budget,
      history: first.outcome.history,
      feedback: 'Carry on.',
      usageSoFar: first.outcome.usage,
    });
    assert.equal(second.outcome.reason, 'finished', second.outcome.message);
    assert.equal(second.outcome.usage.steps, 2);
    const usage = second.events.filter((event) => event.type === 'usage');
    // Steps are still numbered across the ticket, and the totals count both attempts.
    assert.deepEqual(
      usage.map((event) => [event.step, event.total.steps]),
      [
        [4, 4],
        [5, 5],
      ],
    );
  });

  test('tokens and cost stay budgets of the whole ticket', async () => {
    const spent = { inputTokens: 900, outputTokens: 0, costUsd: 0.5, steps: 3 };
    const tokens = await attempt(() => listing, {
      budget: { ...budget, maxTokens: 1000 },
      usageSoFar: spent,
    });
    assert.equal(tokens.outcome.reason, 'budget_tokens');
    // 900 before, 120 in the one step this attempt could take.
    assert.equal(tokens.outcome.usage.steps, 1);
    assert.equal(
      tokens.outcome.message,
      'stopped after 1020 tokens on this ticket (1000 in, 20 out; budget: 1000 tokens per ticket)',
    );
    const cost = await attempt(() => listing, {
      budget: { ...budget, maxCostUsd: 0.5 },
      usageSoFar: spent,
    });
    assert.equal(cost.outcome.reason, 'budget_cost');
    assert.equal(cost.outcome.usage.steps, 0);
    assert.equal(
      cost.outcome.message,
      'stopped at $0.5000 on this ticket (budget: $0.5 per ticket)',
    );
  });

  test('the conversation is saved after every step', async () => {
    const saved: unknown[][] = [];
    const { outcome } = await attempt([listing, listing, finishing], {}, (session) => {
      session.saveHistory = (history) => {
        saved.push(history);
      };
    });
    assert.equal(outcome.reason, 'finished');
    assert.equal(saved.length, 3);
    // Each save holds more than the one before; the last is what the outcome hands back.
    assert.ok((saved[0]?.length ?? 0) < (saved[1]?.length ?? 0));
    assert.ok((saved[1]?.length ?? 0) < (saved[2]?.length ?? 0));
    assert.deepEqual(saved[2], outcome.history);
    assert.deepEqual(JSON.parse(JSON.stringify(saved[0])), saved[0]);
  });

  test('an unpriced model is said once per attempt; a priced or dated-priced one not at all', async () => {
    const notices = (events: Awaited<ReturnType<typeof attempt>>['events']) =>
      events.filter((event) => event.type === 'notice').map((event) => event.message);
    const unpriced = await attempt([listing, listing, finishing], {});
    assert.deepEqual(notices(unpriced.events), [
      "no price for mock:scripted; its cost counts as 0 — add it to MAGS_MODEL_PRICES or the project's prices",
    ]);
    const priced = await attempt([finishing], {
      prices: { 'mock:scripted': { inputPerMillionUsd: 1, outputPerMillionUsd: 2 } },
    });
    assert.deepEqual(notices(priced.events), []);
    // A dated id is priced like its family.
    const dated = await attempt([finishing], {
      model: 'anthropic:claude-sonnet-4-5-20250929',
    });
    assert.deepEqual(notices(dated.events), []);
    const usage = dated.events.find((event) => event.type === 'usage');
    // 100 in at $3 and 20 out at $15 per million.
    assert.equal(usage?.costUsd, (100 * 3 + 20 * 15) / 1_000_000);
  });

  test('the model is resolved with the task’s environment, not the process’s', async (t) => {
    const requests: Array<{ url: string | undefined; headers: IncomingHttpHeaders }> = [];
    const server = createServer((request, response) => {
      requests.push({ url: request.url, headers: request.headers });
      request.resume();
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: 'recorded by the test server' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close());
    const { port } = server.address() as AddressInfo;
    const agent = createBuiltinAgent({ retry: { maxRetries: 0 } });
    const task = agentTestTask({
      model: 'openai:gpt-5',
      environment: {
        OPENAI_API_KEY: 'sk-from-the-task',
        OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      },
    });
    const outcome = await agent.run(task, agentTestSession(box.sandbox));
    assert.equal(outcome.reason, 'provider_error');
    assert.match(outcome.message, /recorded by the test server/);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]?.url, '/v1/responses');
    assert.equal(requests[0]?.headers.authorization, 'Bearer sk-from-the-task');
    // With an environment that lacks the key, the process's own key (if any) is not used.
    const without = await agent.run(
      agentTestTask({ model: 'openai:gpt-5', environment: {} }),
      agentTestSession(box.sandbox),
    );
    assert.equal(without.reason, 'provider_error');
    assert.match(without.message, /OPENAI_API_KEY/);
    assert.equal(requests.length, 1);
  });
});
