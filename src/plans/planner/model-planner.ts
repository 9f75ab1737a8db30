/**
 * The planner on a real model (AI SDK v7 structured output): the model is asked for a plan as a
 * JSON object; an answer that is not JSON, does not match `PlanSpecSchema`, names an unknown
 * role, has a cycle or an unknown dependency, or is cut at the output limit is refused, and the
 * model asked again with the exact reason in the conversation, up to `maxAttempts`; then
 * `PlannerRefusedError`. Every failure after a try carries the tries' summed usage.
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
  modelProviders,
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
  readPlannerText,
  readPlannerValue,
} from './planner-answer.ts';
import {
  PlannerProviderError,
  PlannerRefusedError,
  PlannerStoppedError,
} from './planner-errors.ts';
import { plannerRequestPrompt, plannerSystemPrompt, refusalPrompt } from './planner-prompt.ts';
import { plannerSettings } from './planner-settings.ts';

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
  /** Tokens one answer may have (default: MAGS_PLAN_PLANNER_MAX_OUTPUT_TOKENS, else 16000). */
  maxOutputTokens?: number;
  /** The AI SDK's own retries of a provider error per try (default 2). */
  maxRetries?: number;
}

/**
 * How much of a refused answer goes back into the conversation: enough to correct it, not so
 * much that every try resends every earlier answer whole (a conversation growing by a full
 * answer per try costs the square of the tries). A cut answer is useless past its beginning.
 */
export const maxRefusedAnswerChars = 6000;
export const maxCutAnswerChars = 1000;

export function createModelPlanner(options: ModelPlannerOptions = {}): Planner {
  return async (input) => {
    const settings = plannerSettings(input.environment);
    const maxAttempts = options.maxAttempts ?? settings.maxAttempts;
    const maxOutputTokens = options.maxOutputTokens ?? settings.maxOutputTokens;
    const prices = { ...options.prices, ...input.project.config.prices };
    const model = await resolvePlannerModel(options, input.model, input.environment);
    const messages: ModelMessage[] = [
      { role: 'user', content: plannerRequestPrompt(input.project, input.request) },
    ];
    let usage: TokenUsage = noUsage;
    let reason = '';
    let cut = false;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let answer: Answer;
      try {
        answer = await askOnce(model, messages, input, { ...options, maxOutputTokens });
      } catch (error) {
        throw failedTry(error, input, attempt, usage);
      }
      usage = addUsage(usage, {
        inputTokens: answer.inputTokens,
        outputTokens: answer.outputTokens,
        costUsd: costOf(input.model, answer, prices),
        steps: 1,
      });
      if ('spec' in answer.reading) {
        const count = answer.reading.spec.tickets.length;
        input.onAttempt({
          attempt,
          accepted: true,
          message: `a plan of ${count} ticket${count === 1 ? '' : 's'}`,
        });
        return { spec: answer.reading.spec, usage };
      }
      reason = answer.reading.reason;
      cut = answer.cut;
      input.onAttempt({ attempt, accepted: false, message: reason });
      messages.push(
        { role: 'assistant', content: refusedAnswerExcerpt(answer.text, answer.cut) },
        { role: 'user', content: refusalPrompt(reason) },
      );
    }
    throw new PlannerRefusedError(maxAttempts, reason, usage, {
      ...(cut
        ? {
            hint: `Ask for fewer or shorter tickets (split the request into several plans), or raise MAGS_PLAN_PLANNER_MAX_OUTPUT_TOKENS (now ${maxOutputTokens}).`,
          }
        : {}),
    });
  };
}

async function resolvePlannerModel(
  options: ModelPlannerOptions,
  id: string,
  environment: NodeJS.ProcessEnv,
): Promise<LanguageModel> {
  try {
    return await (options.resolveLanguageModel ?? resolveModelFromEnvironment)(id, environment);
  } catch (error) {
    if (error instanceof MagsError) throw error;
    const keys = Object.values(modelProviders)
      .map((provider) => provider.keyVariable)
      .filter((variable) => variable !== undefined);
    throw new InvalidInputError(`Cannot use the model ${id}: ${(error as Error).message}`, {
      code: 'invalid_model',
      hint: `Name the model as provider:model (e.g. anthropic:claude-sonnet-4-5) and set its provider's key in the server's environment (${keys.join(', ')}).`,
      cause: error,
    });
  }
}

interface Answer {
  reading: PlannerReading;
  /** What the model said, to put back in the conversation (an excerpt) when it is refused. */
  text: string;
  /** The answer stopped at the output limit. */
  cut: boolean;
  inputTokens: number;
  outputTokens: number;
}

async function askOnce(
  model: LanguageModel,
  messages: ModelMessage[],
  input: Parameters<Planner>[0],
  options: { maxRetries?: number; maxOutputTokens: number },
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
      maxOutputTokens: options.maxOutputTokens,
      ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
      ...(input.signal ? { abortSignal: input.signal } : {}),
    });
    return {
      reading: readPlannerValue(result.output, roles),
      text: JSON.stringify(result.output),
      cut: false,
      inputTokens: result.totalUsage.inputTokens ?? 0,
      outputTokens: result.totalUsage.outputTokens ?? 0,
    };
  } catch (error) {
    // Not JSON or not the wire schema: read the text ourselves for a reason the model can act on
    // (and to accept what the wire schema is stricter about than PlanSpecSchema, e.g. a missing
    // null `check`). Cut at the output limit: that, not the JSON error it causes, is the reason.
    if (NoObjectGeneratedError.isInstance(error)) {
      const text = error.text ?? '';
      const read = readPlannerText(text, roles);
      const cut = error.finishReason === 'length' && !('spec' in read);
      return {
        reading: cut
          ? {
              reason: `the answer was cut at ${options.maxOutputTokens} tokens (the output limit): write fewer or shorter tickets, with shorter requests.`,
            }
          : read,
        text,
        cut,
        inputTokens: error.usage?.inputTokens ?? 0,
        outputTokens: error.usage?.outputTokens ?? 0,
      };
    }
    throw error;
  }
}

/** A refused answer as it goes back to the model: whole when short, else its beginning. */
export function refusedAnswerExcerpt(text: string, cut: boolean): string {
  if (!text) return '(no answer)';
  const limit = cut ? maxCutAnswerChars : maxRefusedAnswerChars;
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}\n… (${text.length - limit} more characters left out here${cut ? '; the answer was cut at the output limit' : ''})`;
}

/** A try threw: stopped, or the provider's error, with what the earlier tries cost. */
function failedTry(
  error: unknown,
  input: Parameters<Planner>[0],
  attempt: number,
  usage: TokenUsage,
): MagsError {
  if (input.signal?.aborted) {
    return new PlannerStoppedError(
      `The planner was stopped during try ${attempt}: ${(error as Error).message}`,
      { code: 'planner_stopped', statusCode: 409, attempts: attempt, usage, cause: error },
    );
  }
  const last = RetryError.isInstance(error) ? error.lastError : error;
  const failure = classifyProviderError(last);
  const tries = RetryError.isInstance(error) ? error.errors.length : 1;
  let hint: string | undefined;
  try {
    hint = failure.unreachable ? unreachableModelHint(input.model, input.environment) : undefined;
  } catch {
    hint = undefined;
  }
  return new PlannerProviderError(
    `The planner model ${input.model} failed${tries > 1 ? ` ${tries} times` : ''}: ${failure.message}`,
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
      attempts: attempt,
      usage,
    },
  );
}
