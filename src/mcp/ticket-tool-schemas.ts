import { z } from 'zod';
import { ProjectNameSchema } from '../api/projects.ts';
import { CriterionSchema, TicketIdSchema } from '../api/tickets.ts';

/**
 * The ticket tools' inputs, built on the API's own schemas (the same rule, checked before a
 * request: an id such as "." or ".." never reaches a URL path) with descriptions for a model.
 */
export const ticketIdInput = TicketIdSchema.describe(
  'The ticket id: "tkt_" then up to 40 letters, digits, "_" or "-", e.g. "tkt_3kTMd9bX1VvJf2Qw" ' +
    '(from ticket_create or ticket_list).',
);

export const projectInput = (what: string) =>
  ProjectNameSchema.describe(
    `${what}: up to 63 letters, digits, ".", "_" and "-", starting with a letter or digit (e.g. "webapp").`,
  );

export const criteriaInput = z
  .array(
    CriterionSchema.extend({
      text: CriterionSchema.shape.text.describe(
        'What must be true when done (1 to 10,000 characters).',
      ),
      check: CriterionSchema.shape.check.describe(
        "A shell command run in /workspace of the ticket's sandbox that exits 0 when the " +
          'criterion is met (up to 65,536 characters). Without one, a person decides (needs_person).',
      ),
    }),
  )
  .min(1)
  .max(100)
  .describe('The acceptance criteria, 1 to 100; each verified by its check if it has one.');

/** Budget inputs shared by ticket_create and ticket_run, in units a model picks easily. */
export const budgetInputs = {
  maxSteps: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe("Budget: the agent's model calls at most, 1 to 10,000 (default: the server's)."),
  maxCostUsd: z
    .number()
    .positive()
    .optional()
    .describe("Budget: US dollars at most (default: the server's)."),
  maxWallMinutes: z
    .number()
    .min(1 / 60)
    .max(7 * 24 * 60)
    .optional()
    .describe("Budget: wall-clock minutes at most, up to 7 days (default: the server's)."),
};

/** The API's budget (maxWallMs) from the inputs given, or undefined when none is. */
export function budgetFromInputs(input: {
  maxSteps?: number;
  maxCostUsd?: number;
  maxWallMinutes?: number;
}) {
  const budget = {
    ...(input.maxSteps !== undefined && { maxSteps: input.maxSteps }),
    ...(input.maxCostUsd !== undefined && { maxCostUsd: input.maxCostUsd }),
    ...(input.maxWallMinutes !== undefined && {
      maxWallMs: Math.round(input.maxWallMinutes * 60_000),
    }),
  };
  return Object.keys(budget).length > 0 ? budget : undefined;
}
