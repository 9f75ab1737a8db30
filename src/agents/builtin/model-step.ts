/**
 * One model call of the loop: streams it (text as `text` events as it comes), lets the SDK run
 * the tools it asks for, and retries provider errors by `RetryPolicy` with a `retry` event each.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type LanguageModel, type ModelMessage, streamText, type ToolSet } from 'ai';
import type { TicketEventData } from '../../api/tickets.ts';
import { classifyProviderError, type RetryPolicy, retryDelayMs } from './provider-retry.ts';
import { describeError } from './tools/tool-context.ts';

export type StepResult =
  | {
      kind: 'done';
      /** The assistant's message and the tools' results, to append to the conversation. */
      messages: ModelMessage[];
      inputTokens: number;
      outputTokens: number;
      calledTools: boolean;
    }
  | { kind: 'aborted' }
  | { kind: 'provider_error'; message: string; unreachable: boolean };

export interface StepOptions {
  model: LanguageModel;
  system: string;
  messages: ModelMessage[];
  tools: ToolSet;
  step: number;
  signal: AbortSignal;
  retry: RetryPolicy;
  emit(event: TicketEventData): Promise<void>;
  /** Whether the tool set ran this call itself (else the SDK refused it: bad input, no such tool). */
  executed(toolCallId: string): boolean;
}

export async function runModelStep(options: StepOptions): Promise<StepResult> {
  for (let retry = 0; ; retry++) {
    const attempt = await streamOnce(options);
    if (attempt.kind !== 'failed') return attempt;
    if (options.signal.aborted) return { kind: 'aborted' };
    const failure = classifyProviderError(attempt.error);
    if (!failure.retryable || retry >= options.retry.maxRetries) {
      const tries = retry + 1;
      return {
        kind: 'provider_error',
        message: `the model provider failed${tries > 1 ? ` ${tries} times` : ''}: ${failure.message}`,
        unreachable: failure.unreachable,
      };
    }
    const delayMs = retryDelayMs(failure, retry + 1, options.retry);
    await options.emit({ type: 'retry', message: failure.message, attempt: retry + 1, delayMs });
    try {
      await sleep(delayMs, undefined, { signal: options.signal });
    } catch {
      return { kind: 'aborted' };
    }
  }
}

async function streamOnce(
  options: StepOptions,
): Promise<Exclude<StepResult, { kind: 'provider_error' }> | { kind: 'failed'; error: unknown }> {
  const { step, emit } = options;
  const result = streamText({
    model: options.model,
    system: options.system,
    messages: options.messages,
    tools: options.tools,
    // Retries are ours (see provider-retry.ts).
    maxRetries: 0,
    abortSignal: options.signal,
    // Errors arrive as stream parts below; the default would also print them.
    onError: () => {},
  });
  let error: unknown;
  let calledTools = false;
  try {
    for await (const part of result.fullStream) {
      if (part.type === 'text-delta') {
        if (part.text) await emit({ type: 'text', step, text: part.text });
      } else if (part.type === 'tool-call') {
        calledTools = true;
      } else if (part.type === 'tool-error' && !options.executed(part.toolCallId)) {
        // Refused before it ran (input not matching the schema, a tool it does not have): the
        // model sees this error as the call's result and can try again next step.
        await emit({
          type: 'tool_call',
          step,
          toolCallId: part.toolCallId,
          tool: part.toolName,
          input: part.input,
        });
        await emit({
          type: 'tool_result',
          step,
          toolCallId: part.toolCallId,
          tool: part.toolName,
          output: describeError(part.error),
          isError: true,
        });
      } else if (part.type === 'error') {
        error = part.error;
      }
    }
  } catch (thrown) {
    error = thrown;
  }
  if (options.signal.aborted) return { kind: 'aborted' };
  if (error !== undefined) return { kind: 'failed', error };
  try {
    const [response, usage] = await Promise.all([result.response, result.usage]);
    return {
      kind: 'done',
      messages: response.messages,
      inputTokens: usage.inputTokens ?? 0,
      outputTokens: usage.outputTokens ?? 0,
      calledTools,
    };
  } catch (thrown) {
    if (options.signal.aborted) return { kind: 'aborted' };
    return { kind: 'failed', error: thrown };
  }
}
