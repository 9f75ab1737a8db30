/**
 * What the end-to-end ticket tests share: a real server on the namespace runtime with the real
 * ticket parts (the built-in agent, evidence, review) whose models are scripted, and a real
 * project imported by the ProjectManager from a fixture repository made here on the host — a
 * tiny node project whose `sum` subtracts, a `node --test` test command, and a criterion whose
 * check runs the fixed behaviour.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LanguageModel } from 'ai';
import { runtimeAgentSandbox } from '../../src/agents/runtime-agent-sandbox.ts';
import type { CreateTicketBody, TicketEvent } from '../../src/api/tickets.ts';
import type { Planner } from '../../src/plans/plan-parts.ts';
import type { Mags } from '../../src/sdk/mags.ts';
import { builtinTicketParts } from '../../src/tickets/builtin-ticket-parts.ts';
import { type ScriptEntry, scriptedModel } from './scripted-model.ts';
import { startTestServer, type TestServer } from './test-server.ts';

export const buggySum = 'exports.sum = (a, b) => a - b;\n';
export const fixedSum = 'exports.sum = (a, b) => a + b;\n';
/** One test fails on the bug (2 - 3), one passes either way (4 - 0). */
const sumTests = `const test = require('node:test');
const assert = require('node:assert');
const { sum } = require('./sum.js');
test('adds two numbers', () => assert.equal(sum(2, 3), 5));
test('adds zero', () => assert.equal(sum(4, 0), 4));
`;

/** The criterion's check: the platform runs it in the ticket's sandbox, in /workspace. */
export const sumCheck = `node -e 'process.exit(require("./sum.js").sum(2, 3) === 5 ? 0 : 1)'`;

/** The key the scripted models' provider (openai) is checked for; never sent anywhere. */
export const serverEnvironment = { OPENAI_API_KEY: 'sk-scripted-models-make-no-calls' };

/** Model prices the server adds, so a scripted ticket's cost is a known figure. */
export const scriptedPrice = { inputPerMillionUsd: 1, outputPerMillionUsd: 10 };

export interface EndToEndServer {
  server: TestServer;
  alice: Mags;
  aliceToken: string;
  bob: Mags;
  /** The fixture repository on the host (a checkout on main). */
  checkout: string;
  /** `git diff` of exactly the fix, made by host git in the checkout. */
  fixDiff: string;
  /** A scripted model under a new `openai:` id (priced at `scriptedPrice`). */
  model(script: Parameters<typeof scriptedModel>[0]): { id: string; prompts(): string[] };
  /** A ticket of the fixture project, queued at once, with `model`. */
  body(model: string, overrides?: Partial<CreateTicketBody>): CreateTicketBody;
  close(): Promise<void>;
}

export const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8' });

/** `planner`: the plans' planner (a scripted model's), when the test makes plans with one. */
export async function startEndToEndServer(
  options: { planner?: Planner } = {},
): Promise<EndToEndServer> {
  const models = new Map<string, LanguageModel>();
  const prices: Record<string, typeof scriptedPrice> = {};
  const server = await startTestServer(
    {
      scheduling: { poolSize: 0 },
      tickets: {
        parts: builtinTicketParts({
          resolveModel: (id) => {
            const model = models.get(id);
            if (!model) throw new Error(`no scripted model ${id}`);
            return model;
          },
          // Provider errors are retried at once: the retry logic is the loop's, not the clock's.
          retry: { initialDelayMs: 1, maxDelayMs: 20 },
        }),
        environment: serverEnvironment,
        settings: { prices },
      },
      ...(options.planner && { plans: { planner: options.planner } }),
      // The trigger tests use per-second schedules.
      triggers: { minIntervalSeconds: 0 },
    },
    { MAGS_DISK: '64M' },
  );
  try {
    const checkout = join(server.testHome.home, 'fixtures', 'calc');
    await mkdir(checkout, { recursive: true });
    await writeFile(
      join(checkout, 'package.json'),
      `${JSON.stringify({ name: 'calc', private: true, scripts: { test: 'node --test' } })}\n`,
    );
    await writeFile(join(checkout, 'sum.js'), buggySum);
    await writeFile(join(checkout, 'sum.test.js'), sumTests);
    git(checkout, 'init', '-q', '-b', 'main');
    git(checkout, 'add', '.');
    git(
      checkout,
      '-c',
      'user.name=Fixture',
      '-c',
      'user.email=f@example.com',
      'commit',
      '-qm',
      'sum',
    );
    await writeFile(join(checkout, 'sum.js'), fixedSum);
    const fixDiff = git(checkout, 'diff', '--no-color');
    git(checkout, 'checkout', '--', 'sum.js');

    const alice = await server.client('alice');
    const bob = await server.client('bob');
    const project = await alice.mags.projects.create({
      name: 'calc',
      repo: checkout,
      test: 'node --test',
    });
    if (project.status !== 'ready') throw new Error(`the fixture project is ${project.status}`);
    let count = 0;
    return {
      server,
      alice: alice.mags,
      aliceToken: alice.token,
      bob: bob.mags,
      checkout,
      fixDiff,
      model(script) {
        const id = `openai:scripted-${++count}`;
        const scripted = scriptedModel(script, { provider: 'openai', modelId: id });
        models.set(id, scripted.model);
        prices[id] = scriptedPrice;
        return { id, prompts: scripted.prompts };
      },
      body: (model, overrides = {}) => ({
        project: 'calc',
        title: 'sum subtracts',
        request: 'sum(a, b) in sum.js returns a - b; it must return a + b.',
        criteria: [{ text: 'sum adds', check: sumCheck }],
        model,
        run: true,
        ...overrides,
      }),
      close: () => server.close(),
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}

/** The ticket's events after `after`, followed until it is neither queued nor running. */
export async function followTicket(mags: Mags, id: string, after = 0): Promise<TicketEvent[]> {
  const events: TicketEvent[] = [];
  for await (const event of mags.tickets.events(id, { follow: true, after })) events.push(event);
  return events;
}

/** The events' types in order, `text` deltas left out (how a model's text is cut varies). */
export const eventTypes = (events: TicketEvent[]) =>
  events.map((event) => event.data.type).filter((type) => type !== 'text');

/** Status changes as `from→to`. */
export const statusChanges = (events: TicketEvent[]) =>
  events.flatMap((event) =>
    event.data.type === 'status' ? [`${event.data.from ?? ''}→${event.data.to}`] : [],
  );

/** A step that calls one tool. */
export const call = (tool: string, input: unknown): ScriptEntry => ({
  toolCalls: [{ tool, input }],
});

/** A step that calls finish with one claim for criterion 1 (the model numbers them from 1). */
export const finish = (summary: string, met: boolean, note?: string): ScriptEntry =>
  call('finish', { summary, claims: [{ criterion: 1, met, ...(note ? { note } : {}) }] });

/** A command's output in a throw-away sandbox on alice's project workspace. */
export async function inProjectWorkspace(e2e: EndToEndServer, command: string): Promise<string> {
  const { sandboxes } = e2e.server.server.services;
  const name = `look-${Math.random().toString(36).slice(2, 8)}`;
  await sandboxes.create('alice', { name, workspace: 'project.calc', sleep: false });
  const use = await sandboxes.use('alice', name);
  try {
    const result = await runtimeAgentSandbox(use.sandbox).exec(command, { timeoutMs: 30_000 });
    assert.equal(result.exitCode, 0, result.output);
    return result.output;
  } finally {
    use.release();
    await sandboxes.delete('alice', name);
  }
}
