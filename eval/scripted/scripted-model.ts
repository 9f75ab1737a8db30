/**
 * A model scripted per step (MockLanguageModelV4 from `ai/test`) that drives the real built-in
 * agent loop without a provider: each call answers with the tool calls the script gives for that
 * step. The step is read from the prompt (how many assistant turns it already holds), so one
 * model serves any number of tickets at once, and a retried call gets the same answer.
 */
import { convertArrayToReadableStream, MockLanguageModelV4 } from 'ai/test';

export interface ScriptedToolCall {
  tool: string;
  input: unknown;
}

export interface ScriptedStep {
  text?: string;
  toolCalls: ScriptedToolCall[];
}

export interface ScriptContext {
  /** 0 for the first call of an attempt's conversation, then one more per assistant turn. */
  step: number;
  /** The text of the conversation's first user message: the ticket as the loop words it. */
  ticketText: string;
}

type CallOptions = Parameters<MockLanguageModelV4['doStream']>[0];
type StreamPart = Parameters<typeof convertArrayToReadableStream<unknown>>[0][number];

export function scriptedModel(
  script: (context: ScriptContext) => ScriptedStep,
  options: { modelId?: string } = {},
): MockLanguageModelV4 {
  return new MockLanguageModelV4({
    provider: 'scripted',
    modelId: options.modelId ?? 'scripted',
    doStream: async (call: CallOptions) => {
      const step = call.prompt.filter((message) => message.role === 'assistant').length;
      const scripted = script({ step, ticketText: firstUserText(call) });
      const parts: StreamPart[] = [{ type: 'stream-start', warnings: [] }];
      if (scripted.text) {
        parts.push(
          { type: 'text-start', id: `text-${step}` },
          { type: 'text-delta', id: `text-${step}`, delta: scripted.text },
          { type: 'text-end', id: `text-${step}` },
        );
      }
      for (const [index, toolCall] of scripted.toolCalls.entries()) {
        parts.push({
          type: 'tool-call',
          toolCallId: `call-${step}-${index}`,
          toolName: toolCall.tool,
          input: JSON.stringify(toolCall.input),
        });
      }
      // Token counts as a rough size of what went in and out (4 characters a token), so the
      // usage figures move like a real model's.
      const inputTokens = Math.ceil(JSON.stringify(call.prompt).length / 4);
      const outputTokens = Math.ceil(JSON.stringify(scripted).length / 4);
      parts.push({
        type: 'finish',
        finishReason: {
          unified: scripted.toolCalls.length > 0 ? 'tool-calls' : 'stop',
          raw: undefined,
        },
        usage: {
          inputTokens: {
            total: inputTokens,
            noCache: inputTokens,
            cacheRead: undefined,
            cacheWrite: undefined,
          },
          outputTokens: { total: outputTokens, text: outputTokens, reasoning: undefined },
        },
      });
      return { stream: convertArrayToReadableStream(parts) } as Awaited<
        ReturnType<MockLanguageModelV4['doStream']>
      >;
    },
  });
}

function firstUserText(call: CallOptions): string {
  const first = call.prompt.find((message) => message.role === 'user');
  if (!first || typeof first.content === 'string') return '';
  return first.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}
