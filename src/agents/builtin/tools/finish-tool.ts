import { z } from 'zod';
import { type AgentToolDefinition, failed, succeeded } from './tool-context.ts';

export const finishInput = z.strictObject({
  summary: z.string().min(1).describe('What you did and why, for the person who reviews it.'),
  claims: z
    .array(
      z.strictObject({
        criterion: z
          .number()
          .int()
          .describe('Number of the acceptance criterion, from 1, as the ticket lists them.'),
        met: z.boolean(),
        note: z.string().optional().describe('How you checked it, or what is missing.'),
      }),
    )
    .describe('One claim per acceptance criterion.'),
});

/**
 * Ends the run with the agent's summary and a claim per criterion. Claims are the agent's word
 * only: the platform runs the checks itself afterwards. The model numbers criteria from 1, like
 * everything a person sees; the stored claims (`CriterionClaim.criterion`) index them from 0.
 */
export const finishTool: AgentToolDefinition<z.infer<typeof finishInput>> = {
  description:
    'Call when the work is done (or cannot be done): a summary and one claim per acceptance criterion (numbered from 1, as the ticket lists them). The platform then runs the tests and checks itself.',
  inputSchema: finishInput,
  async run({ summary, claims }, _call, context) {
    const count = context.criteria.length;
    const outside = claims
      .filter((claim) => claim.criterion < 1 || claim.criterion > count)
      .map((claim) => claim.criterion);
    if (outside.length > 0) {
      return failed(
        `the ticket has ${count === 1 ? '1 criterion (number 1)' : `${count} criteria (numbers 1 to ${count})`}; there is no criterion ${outside.join(', ')}. Call finish again with one claim per criterion, numbered as the ticket lists them.`,
      );
    }
    const missing = context.criteria
      .map((_, index) => index + 1)
      .filter((number) => !claims.some((claim) => claim.criterion === number));
    if (missing.length > 0) {
      return failed(
        `no claim for criterion ${missing.join(', ')}. Call finish again with one claim per criterion (met: false with a note when it is not met).`,
      );
    }
    const stored = claims.map(({ criterion, met, note }) => ({
      criterion: criterion - 1,
      met,
      ...(note !== undefined ? { note } : {}),
    }));
    await context.emit({ type: 'finish', summary, claims: stored });
    context.finished({ summary, claims: stored });
    return succeeded('Recorded. The platform now runs the tests and checks; nothing more to do.');
  },
};
