import { z } from 'zod';
import { type AgentToolDefinition, failed, succeeded } from './tool-context.ts';

export const finishInput = z.strictObject({
  summary: z.string().min(1).describe('What you did and why, for the person who reviews it.'),
  claims: z
    .array(
      z.strictObject({
        criterion: z.number().int().min(0).describe('Index of the acceptance criterion (from 0).'),
        met: z.boolean(),
        note: z.string().optional().describe('How you checked it, or what is missing.'),
      }),
    )
    .describe('One claim per acceptance criterion.'),
});

/**
 * Ends the run with the agent's summary and a claim per criterion. Claims are the agent's word
 * only: the platform runs the checks itself afterwards.
 */
export const finishTool: AgentToolDefinition<z.infer<typeof finishInput>> = {
  description:
    'Call when the work is done (or cannot be done): a summary and one claim per acceptance criterion. The platform then runs the tests and checks itself.',
  inputSchema: finishInput,
  async run({ summary, claims }, _call, context) {
    const count = context.criteria.length;
    const outside = claims
      .filter((claim) => claim.criterion >= count)
      .map((claim) => claim.criterion);
    if (outside.length > 0) {
      return failed(
        `there are ${count} criteria (0 to ${count - 1}); no criterion ${outside.join(', ')}. Call finish again with one claim per criterion.`,
      );
    }
    const missing = context.criteria
      .map((_, index) => index)
      .filter((index) => !claims.some((claim) => claim.criterion === index));
    if (missing.length > 0) {
      return failed(
        `no claim for criterion ${missing.join(', ')}. Call finish again with one claim per criterion (met: false with a note when it is not met).`,
      );
    }
    const normalised = claims.map(({ criterion, met, note }) => ({
      criterion,
      met,
      ...(note !== undefined ? { note } : {}),
    }));
    await context.emit({ type: 'finish', summary, claims: normalised });
    context.finished({ summary, claims: normalised });
    return succeeded('Recorded. The platform now runs the tests and checks; nothing more to do.');
  },
};
