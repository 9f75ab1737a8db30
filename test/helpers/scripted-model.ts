/**
 * A model scripted step by step for the agent loop's tests (MockLanguageModelV4 from `ai/test`):
 * each step says its text, its tool calls and its token counts, or throws a provider error.
 * `prompts()` shows what the loop sent at each step.
 */
import { convertArrayToReadableStream, MockLanguageModelV4 } from 'ai/test';

export interface ScriptedStep {
  text?: string;
  toolCalls?: Array<{ tool: string; input: unknown; id?: string }>;
  inputTokens?: number;
  outputTokens?: number;
}

/** A step, a provider error to throw, or a function of the step number (0-based). */
export type ScriptEntry = ScriptedStep | { error: unknown };

/**
 * A function may answer later (a promise): the step waits on it, e.g. until a test has done
 * something while the ticket is known to be mid-step.
 */
export function scriptedModel(
  script: ScriptEntry[] | ((call: number) => ScriptEntry | Promise<ScriptEntry>),
  options: { provider?: string; modelId?: string } = {},
) {
  let call = 0;
  const model = new MockLanguageModelV4({
    provider: options.provider ?? 'mock',
    modelId: options.modelId ?? 'scripted',
    doStream: async () => {
      const index = call++;
      const entry = await (typeof script === 'function' ? script(index) : script[index]);
      if (!entry) throw new Error(`the script has no step ${index}`);
      if ('error' in entry) throw entry.error;
      const parts: unknown[] = [{ type: 'stream-start', warnings: [] }];
      if (entry.text) {
        parts.push({ type: 'text-start', id: `t${index}` });
        // Two deltas: text streams in pieces.
        const half = Math.ceil(entry.text.length / 2);
        parts.push({ type: 'text-delta', id: `t${index}`, delta: entry.text.slice(0, half) });
        if (entry.text.length > half) {
          parts.push({ type: 'text-delta', id: `t${index}`, delta: entry.text.slice(half) });
        }
        parts.push({ type: 'text-end', id: `t${index}` });
      }
      for (const [position, toolCall] of (entry.toolCalls ?? []).entries()) {
        parts.push({
          type: 'tool-call',
          toolCallId: toolCall.id ?? `call-${index}-${position}`,
          toolName: toolCall.tool,
          input: JSON.stringify(toolCall.input),
        });
      }
      parts.push({
        type: 'finish',
        finishReason: { unified: entry.toolCalls?.length ? 'tool-calls' : 'stop', raw: undefined },
        usage: {
          inputTokens: {
            total: entry.inputTokens ?? 100,
            noCache: undefined,
            cacheRead: undefined,
            cacheWrite: undefined,
          },
          outputTokens: { total: entry.outputTokens ?? 20, text: undefined, reasoning: undefined },
        },
      });
      // biome-ignore lint/suspicious/noExplicitAny: stream parts of the provider spec
      return { stream: convertArrayToReadableStream(parts as any[]) };
    },
  });
  return {
    model,
    /** The prompt of each call, as JSON text (to look for a message in it). */
    prompts: () => model.doStreamCalls.map((options) => JSON.stringify(options.prompt)),
  };
}
