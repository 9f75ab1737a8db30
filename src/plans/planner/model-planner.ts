/**
 * The planner on a real model (AI SDK v7 structured output): the model is asked for a plan as a
 * JSON object; an answer that is not JSON, does not match `PlanSpecSchema`, names an unknown
 * role or has a cycle or an unknown dependency is refused, and the model asked again with the
 * exact reason in the conversation, up to `maxAttempts`; then `PlannerRefusedError`.
 */

import {
  generateText,
  type LanguageModel,
  type ModelMessage,
  NoObjectGeneratedError,
  Output,
  RetryError,
} from 'ai';
import { classifyProviderError } from '../../agents/builtin/provider-retry.ts';
import { costOf, type ModelPriceTable } from '../../agents/model-prices.ts';
import {
  resolveModel as resolveModelFromEnvironment,
  unreachableModelHint,
} from '../../agents/resolve-model.ts';
import { addUsage, noUsage } from '../../agents/token-usage.ts';
import type { TokenUsage } from '../../api/tickets.ts';
import { InvalidInputError, MagsError } from '../../errors/mags-error.ts';
import type { Planner } from '../plan-parts.ts';
import {
  PlannerAnswerSchema,
  type PlannerReading,
  PlannerRefusedError,
  readPlannerText,
  readPlannerValue,
} from './planner-answer.ts';
import { plannerRequestPrompt, plannerSystemPrompt, refusalPrompt } from './planner-prompt.ts';

export interface ModelPlannerOptions {
  /**
   * `provider:model` to a model (default: the provider packages, keys and base URLs from the
   * input's environment), as for the built-in agent; tests hand in a scripted model.
   */
  resolveLanguageModel?: (
    id: string,
    environment: NodeJS.ProcessEnv,
  ) => LanguageModel | Promise<LanguageModel>;
  /** Extends the built-in price table (the project's own prices win over it). */
  prices?: ModelPriceTable;
  /** Tries before giving up (default: MAGS_PLAN_PLANNER_ATTEMPTS of the input's environment, else 3). */
  maxAttempts?: number;
  /** The AI SDK's own retries of a provider error per try (default 2). */
  maxRetries?: number;
}

export const defaultPlannerAttempts = 3;
const maxPlannerAttempts = 10;

export function createModelPlanner(options: ModelPlannerOptions = {}): Planner {
  return async (input) => {
    const maxAttempts = options.maxAttempts ?? plannerAttempts(input.environment);
    const prices = { ...options.prices, ...input.project.config.prices };
    let model: LanguageModel;
    try {
      model = await (options.resolveLanguageModel ?? resolveModelFromEnvironment)(
        input.model,
        input.environment,
      );
    } catch (error) {
      if (error instanceof MagsError) throw error;
      throw new InvalidInputError(
        `Cannot use the model ${input.model}: ${(error as Error).message}`,
        {
          code: 'invalid_model',
        },
      );
    }
    const messages: ModelMessage[] = [
      { role: 'user', content: plannerRequestPrompt(input.project, input.request) },
    ];
    let usage: TokenUsage = noUsage;
    let reason = '';
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const answer = await askOnce(model, messages, input, options.maxRetries);
      usage = addUsage(usage, {
        inputTokens: answer.inputTokens,
        outputTokens: answer.outputTokens,
        costUsd: costOf(input.model, answer, prices),
        steps: 1,
      });
      if ('spec' in answer.reading) {
        input.onAttempt({
          attempt,
          accepted: true,
          message: `a plan of ${answer.reading.spec.tickets.length} ticket${answer.reading.spec.tickets.length === 1 ? '' : 's'}`,
        });
        return { spec: answer.reading.spec, usage };
      }
      reason = answer.reading.reason;
      input.onAttempt({ attempt, accepted: false, message: reason });
      messages.push(
        { role: 'assistant', content: answer.text || '(no answer)' },
        { role: 'user', content: refusalPrompt(reason) },
      );
    }
    throw new PlannerRefusedError(maxAttempts, reason, usage);
  };
}

interface Answer {
  reading: PlannerReading;
  /** What the model said, to put back in the conversation when it is refused. */
  text: string;
  inputTokens: number;
  outputTokens: number;
}

async function askOnce(
  model: LanguageModel,
  messages: ModelMessage[],
  input: Parameters<Planner>[0],
  maxRetries: number | undefined,
): Promise<Answer> {
  const roles = input.project.config.roles;
  try {
    const result = await generateText({
      model,
      system: plannerSystemPrompt,
      messages,
      output: Output.object({
        schema: PlannerAnswerSchema,
        name: 'plan',
        description: 'A plan of tickets for the request.',
      }),
      ...(maxRetries !== undefined ? { maxRetries } : {}),
      ...(input.signal ? { abortSignal: input.signal } : {}),
    });
    return {
      reading: readPlannerValue(result.output, roles),
      text: JSON.stringify(result.output),
      inputTokens: result.totalUsage.inputTokens ?? 0,
      outputTokens: result.totalUsage.outputTokens ?? 0,
    };
  } catch (error) {
    // Not JSON or not the wire schema: read the text ourselves for a reason the model can act on
    // (and to accept what the wire schema is stricter about than PlanSpecSchema, e.g. a missing
    // null `check`).
    if (NoObjectGeneratedError.isInstance(error)) {
      return {
        reading: readPlannerText(error.text, roles),
        text: error.text ?? '',
        inputTokens: error.usage?.inputTokens ?? 0,
        outputTokens: error.usage?.outputTokens ?? 0,
      };
    }
    if (input.signal?.aborted) throw error;
    throw providerError(error, input.model, input.environment);
  }
}

/** The provider failed after the AI SDK's own retries: its error in words, with what to check. */
function providerError(error: unknown, model: string, environment: NodeJS.ProcessEnv): MagsError {
  const last = RetryError.isInstance(error) ? error.lastError : error;
  const failure = classifyProviderError(last);
  const tries = RetryError.isInstance(error) ? error.errors.length : 1;
  let hint: string | undefined;
  try {
    hint = failure.unreachable ? unreachableModelHint(model, environment) : undefined;
  } catch {
    hint = undefined;
  }
  return new MagsError(
    `The planner model ${model} failed${tries > 1 ? ` ${tries} times` : ''}: ${failure.message}`,
    {
      code: 'planner_provider_error',
      statusCode: 502,
      retryable: failure.retryable,
      hint:
        hint ??
        (failure.retryable
          ? 'The provider is busy or failing: try again later, or choose another model (--model).'
          : 'Check the model id and its key, or choose another model (--model).'),
      cause: error,
    },
  );
}

/** MAGS_PLAN_PLANNER_ATTEMPTS: 1 to 10 tries, else a clear error naming the variable. */
export function plannerAttempts(environment: NodeJS.ProcessEnv): number {
  const value = environment.MAGS_PLAN_PLANNER_ATTEMPTS;
  if (value === undefined || value === '') return defaultPlannerAttempts;
  const attempts = Number(value);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > maxPlannerAttempts) {
    throw new InvalidInputError(
      `MAGS_PLAN_PLANNER_ATTEMPTS is "${value}": it must be a whole number from 1 to ${maxPlannerAttempts}.`,
      { code: 'invalid_setting', hint: `Unset it for the default, ${defaultPlannerAttempts}.` },
    );
  }
  return attempts;
}
