/**
 * The planner model's answer: the JSON schema the provider is asked for, and how an answer
 * becomes a `PlanSpec` or the exact reason it cannot (what the model is told on the next try).
 */
import { z } from '@hono/zod-openapi';
import { resolveRole } from '../../agents/builtin/builtin-roles.ts';
import { formatFieldPath, planSpecProblems } from '../../api/plan-file.ts';
import { type PlanSpec, PlanSpecSchema } from '../../api/plans.ts';
import type { ProjectConfig } from '../../api/projects.ts';
import type { MagsError } from '../../errors/mags-error.ts';
import { checkPlanGraph } from '../plan-graph.ts';

export { PlannerRefusedError } from './planner-errors.ts';

/**
 * What the provider is asked to produce. Not `PlanSpecSchema` itself: OpenAI's strict structured
 * outputs (the @ai-sdk/openai default) refuse a schema with optional properties or length limits,
 * so every field here is required (null for "none") and limits are left to `PlanSpecSchema`,
 * which checks the answer afterwards with messages the model can act on. A person's model and
 * budget per ticket are not the planner's to choose.
 */
export const PlannerAnswerSchema = z.strictObject({
  summary: z.string().describe('What the plan does, in a few sentences.'),
  tickets: z.array(
    z.strictObject({
      key: z.string().describe('Unique kebab-case key, e.g. "api-endpoint".'),
      title: z.string(),
      request: z.string().describe('Everything the agent needs to do this ticket on its own.'),
      criteria: z.array(
        z.strictObject({
          text: z.string(),
          check: z
            .string()
            .nullable()
            .describe('A shell command run in /workspace that exits 0 when the criterion is met.'),
        }),
      ),
      role: z.string().nullable().describe('A role of the project; null for the default.'),
      dependsOn: z
        .array(z.string())
        .describe('Keys of the tickets whose results this one needs; empty when none.'),
    }),
  ),
});

export type PlannerReading = { spec: PlanSpec } | { reason: string };

/** The text of an answer (a JSON object, maybe in a Markdown code fence) read as a plan. */
export function readPlannerText(
  text: string | undefined,
  roles: ProjectConfig['roles'],
): PlannerReading {
  const trimmed = (text ?? '').trim();
  if (!trimmed) return { reason: 'the answer was empty; it must be the plan as a JSON object.' };
  const fenced = /^```(?:json)?\s*\n([\s\S]*?)\n```$/.exec(trimmed);
  let value: unknown;
  try {
    value = JSON.parse(fenced ? (fenced[1] as string) : trimmed);
  } catch (error) {
    return { reason: `the answer is not valid JSON (${(error as Error).message}).` };
  }
  return readPlannerValue(value, roles);
}

/**
 * A parsed answer read as a plan: nulls for "none" dropped, then `PlanSpecSchema`, the graph
 * (`checkPlanGraph`) and the roles (each one the project's or a built-in one) checked.
 */
export function readPlannerValue(value: unknown, roles: ProjectConfig['roles']): PlannerReading {
  const plain = withoutNulls(value);
  const problems = planSpecProblems(plain);
  if (problems.length > 0) {
    const listed = problems
      .slice(0, 5)
      .map((problem) => `${formatFieldPath(problem.path)}: ${problem.message}`);
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    return { reason: `the plan does not match the schema: ${listed.join('; ')}${more}.` };
  }
  const spec = PlanSpecSchema.parse(plain);
  try {
    checkPlanGraph(spec);
    for (const [index, ticket] of spec.tickets.entries()) {
      if (ticket.role === undefined) continue;
      try {
        resolveRole(ticket.role, roles);
      } catch (error) {
        throw new Error(
          `tickets[${index}].role: ${(error as Error).message} ${(error as MagsError).hint ?? ''}`.trim(),
        );
      }
    }
  } catch (error) {
    return { reason: (error as Error).message };
  }
  return { spec };
}

/** The answer with null values of object fields removed (null is the wire's "none"). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, field]) => field !== null)
      .map(([key, field]) => [key, withoutNulls(field)]),
  );
}
