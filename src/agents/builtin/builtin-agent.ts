/**
 * The built-in agent (agent-v1) on the Vercel AI SDK: one streamed model call per step, with the
 * role's tools acting only in the ticket's sandbox. Before each step a person's comments join
 * the conversation; after it the conversation is saved and the budget checked. It ends on
 * `finish`, a budget, a stop, or a provider error that retries did not cure — and hands back the
 * conversation to continue from.
 */
import type { LanguageModel, ModelMessage } from 'ai';
import type { CriterionClaim, TicketEventData, TokenUsage } from '../../api/tickets.ts';
import type { Agent, AgentEndReason, AgentOutcome, AgentSession, AgentTask } from '../agent.ts';
import { costOf, unpricedModelNotice } from '../model-prices.ts';
import {
  resolveModel as resolveModelFromEnvironment,
  unreachableModelHint,
} from '../resolve-model.ts';
import { addUsage, noUsage } from '../token-usage.ts';
import { startWorkspaceChanges, type WorkspaceChanges } from '../workspace-changes.ts';
import { exceededBudget, wallTimeStop } from './agent-budget.ts';
import { runModelStep } from './model-step.ts';
import { defaultRetryPolicy, type RetryPolicy } from './provider-retry.ts';
import { commentPrompt, continuePrompt, feedbackPrompt, taskPrompt } from './task-prompt.ts';
import { createAgentTools } from './tools/agent-tools.ts';
import { describeError, type ToolContext } from './tools/tool-context.ts';

export interface BuiltinAgentOptions {
  /**
   * `provider:model` to a model (default: the provider packages, with keys and base URLs from
   * `environment`: the task's, else process.env).
   */
  resolveModel?: (
    id: string,
    environment: NodeJS.ProcessEnv,
  ) => LanguageModel | Promise<LanguageModel>;
  retry?: Partial<RetryPolicy>;
  /** run_command's timeout when the model gives none, and the most it may ask for. */
  commandTimeoutMs?: { default: number; max: number };
}

export const defaultCommandTimeoutMs = { default: 120_000, max: 600_000 };

export function createBuiltinAgent(options: BuiltinAgentOptions = {}): Agent {
  return {
    specificationVersion: 'agent-v1',
    name: 'builtin',
    run: (task, session) => runBuiltinAgent(task, session, options),
  };
}

async function runBuiltinAgent(
  task: AgentTask,
  session: AgentSession,
  options: BuiltinAgentOptions,
): Promise<AgentOutcome> {
  const startedMs = performance.now();
  const elapsedMs = () => performance.now() - startedMs;
  const retry = { ...defaultRetryPolicy, ...options.retry };
  // The conversation so far (JSON from an earlier attempt) plus what starts this one.
  const messages: ModelMessage[] = [...(task.history as ModelMessage[])];
  if (messages.length === 0) messages.push({ role: 'user', content: taskPrompt(task) });
  if (task.feedback) messages.push({ role: 'user', content: feedbackPrompt(task.feedback) });

  let usage: TokenUsage = noUsage;
  let finished: { summary: string; claims: CriterionClaim[] } | undefined;
  // Steps are numbered across the ticket's attempts (as its usage totals count them).
  let step = task.usageSoFar.steps;
  // Plain JSON (the SDK's messages carry undefined fields): stored, then sent back next attempt.
  const history = (): unknown[] => JSON.parse(JSON.stringify(messages));
  const end = (reason: AgentEndReason, message: string): AgentOutcome => ({
    reason,
    message,
    ...(finished ? { summary: finished.summary, claims: finished.claims } : {}),
    usage,
    history: history(),
  });

  const wallTime = new AbortController();
  const wallTimer = setTimeout(
    () => wallTime.abort(),
    Math.max(0, task.budget.maxWallMs - elapsedMs()),
  );
  const signal = AbortSignal.any([session.signal, wallTime.signal]);
  const stopped = (): AgentOutcome =>
    session.signal.aborted
      ? end('stopped', 'stopped by a person')
      : (() => {
          const stop = wallTimeStop(task.budget.maxWallMs, elapsedMs());
          return end(stop.reason, stop.message);
        })();

  const emit = async (event: TicketEventData) => {
    await session.emit(event);
  };
  const executed = new Set<string>();
  let changes: WorkspaceChanges | undefined;
  const context: ToolContext = {
    sandbox: session.sandbox,
    emit,
    step: () => step,
    signal,
    criteria: task.ticket.criteria,
    commandTimeoutMs: options.commandTimeoutMs ?? defaultCommandTimeoutMs,
    recordChanges: async () => {
      await changes?.record(step);
    },
    finished: (result) => {
      finished = result;
    },
  };
  const tools = createAgentTools(task.role.tools, context, (id) => executed.add(id));

  try {
    let model: LanguageModel;
    try {
      model = await (options.resolveModel ?? resolveModelFromEnvironment)(
        task.model,
        task.environment ?? process.env,
      );
    } catch (error) {
      return end('provider_error', `cannot use the model ${task.model}: ${describeError(error)}`);
    }
    const unpriced = unpricedModelNotice(task.model, task.prices);
    if (unpriced) await emit({ type: 'notice', message: unpriced });
    // The first snapshot: what the tools change is reported from here.
    changes = await startWorkspaceChanges(session.sandbox, { emit, signal });
    for (;;) {
      if (signal.aborted) return stopped();
      const over = exceededBudget(
        task.budget,
        { attempt: usage, ticket: addUsage(task.usageSoFar, usage) },
        elapsedMs(),
      );
      if (over) return end(over.reason, over.message);
      for (const comment of session.takeComments()) {
        messages.push({ role: 'user', content: commentPrompt(comment) });
      }
      step++;
      const result = await runModelStep({
        model,
        system: task.role.systemPrompt,
        messages,
        tools,
        step,
        signal,
        retry,
        emit,
        executed: (id) => executed.has(id),
      });
      if (result.kind === 'aborted') return stopped();
      if (result.kind === 'provider_error') {
        const hint = result.unreachable
          ? unreachableHint(task.model, task.environment ?? process.env)
          : undefined;
        return end('provider_error', hint ? `${result.message}: ${hint}` : result.message);
      }
      messages.push(...result.messages);
      if (!result.calledTools && !finished)
        messages.push({ role: 'user', content: continuePrompt });
      const stepUsage = {
        inputTokens: result.inputTokens,
        outputTokens: result.outputTokens,
        costUsd: costOf(task.model, result, task.prices),
        steps: 1,
      };
      usage = addUsage(usage, stepUsage);
      await emit({
        type: 'usage',
        step,
        model: task.model,
        inputTokens: stepUsage.inputTokens,
        outputTokens: stepUsage.outputTokens,
        costUsd: stepUsage.costUsd,
        total: addUsage(task.usageSoFar, usage),
      });
      await session.saveHistory?.(history());
      if (finished) {
        return end('finished', `finished after ${usage.steps} step${usage.steps === 1 ? '' : 's'}`);
      }
    }
  } finally {
    clearTimeout(wallTimer);
  }
}

/** Where a model's server was looked for; nothing for a model id this host cannot resolve. */
function unreachableHint(model: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    return unreachableModelHint(model, env);
  } catch {
    return undefined;
  }
}
