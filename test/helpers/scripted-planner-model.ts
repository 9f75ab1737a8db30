import { MockLanguageModelV4 } from 'ai/test';

/** One answer of a scripted planner model: its text, a cut text, an error, or a wait for abort. */
export type ScriptedAnswer =
  | string
  | { text: string; finishReason: 'length' }
  | { error: unknown }
  | { waitForAbort: true };

/**
 * A model that answers each call with the next entry of the script, with token counts; a
 * `waitForAbort` entry answers only when the call's abort signal fires (then throws its reason).
 */
export function scriptedPlannerModel(
  script: ScriptedAnswer[],
  tokens = { inputTokens: 1000, outputTokens: 200 },
) {
  let call = 0;
  const model = new MockLanguageModelV4({
    provider: 'mock',
    modelId: 'planner',
    doGenerate: async (options) => {
      const entry = script[call++];
      if (entry === undefined) throw new Error(`the script has no answer ${call - 1}`);
      if (typeof entry !== 'string' && 'error' in entry) throw entry.error;
      if (typeof entry !== 'string' && 'waitForAbort' in entry) {
        const signal = options.abortSignal;
        if (!signal) throw new Error('the call has no abort signal');
        await new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener('abort', () => resolve(), { once: true });
        });
        throw signal.reason;
      }
      const text = typeof entry === 'string' ? entry : entry.text;
      const finishReason = typeof entry === 'string' ? 'stop' : entry.finishReason;
      return {
        content: [{ type: 'text', text }],
        finishReason: { unified: finishReason, raw: finishReason },
        usage: {
          inputTokens: {
            total: tokens.inputTokens,
            noCache: undefined,
            cacheRead: undefined,
            cacheWrite: undefined,
          },
          outputTokens: { total: tokens.outputTokens, text: undefined, reasoning: undefined },
        },
        warnings: [],
      };
    },
  });
  return {
    model,
    /** The messages of each call, as JSON text. */
    prompts: () => model.doGenerateCalls.map((options) => JSON.stringify(options.prompt)),
  };
}
