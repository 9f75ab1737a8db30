import type { TokenUsage } from '../api/tickets.ts';
import { InvalidInputError, MagsError } from '../errors/mags-error.ts';
import type { PlanRecord, ProjectRecord } from '../state/state-repository.ts';
import type { PlanDispatch } from './plan-dispatch.ts';
import { checkPlanGraph } from './plan-graph.ts';
import { pendingItems } from './plan-items.ts';
import type { Planner } from './plan-parts.ts';
import { PlannerFailedError } from './planner/planner-errors.ts';

/** The model that writes the plan: asked for, the project's, or the server's default. */
export function plannerModel(
  model: string | undefined,
  project: ProjectRecord,
  defaultModel: string | undefined,
): string {
  const chosen = model ?? project.model ?? project.config.model ?? defaultModel;
  if (chosen) return chosen;
  throw new InvalidInputError('No model to write the plan with.', {
    code: 'model_missing',
    hint: "Give one (--model anthropic:claude-sonnet-4-5), or set a default: the project's (model in its .mags/project.json) or the server's (MAGS_DEFAULT_MODEL); or write the plan yourself: a plan file (mags plan create --file plan.yaml).",
  });
}

/**
 * The planner writes the plan (outside any lock), then, under it, the draft or the failure.
 * Returns the draft (undefined when it failed, or the plan moved on meanwhile). The planner's
 * abort is in `planners` while it writes (a stop or close aborts it).
 */
export async function draftPlan(
  parts: {
    dispatch: PlanDispatch;
    planner: Planner;
    environment: NodeJS.ProcessEnv;
    planners: Map<string, AbortController>;
  },
  record: PlanRecord,
  project: ProjectRecord,
  model: string,
): Promise<PlanRecord | undefined> {
  const { dispatch } = parts;
  const repository = dispatch.options.repository;
  const abort = new AbortController();
  parts.planners.set(record.id, abort);
  let written: Awaited<ReturnType<Planner>> | undefined;
  let failure: { message: string; usage?: TokenUsage } | undefined;
  try {
    written = await parts.planner({
      project,
      request: record.request,
      model,
      signal: abort.signal,
      environment: parts.environment,
      onAttempt: (attempt) => {
        void dispatch.events.append(record.id, { type: 'planner', ...attempt });
      },
    });
    checkPlanGraph(written.spec);
  } catch (error) {
    failure = {
      // The hint says what to do next; a refused plan's tries still cost what they cost.
      message: `${(error as Error).message}${error instanceof MagsError && error.hint ? ` ${error.hint}` : ''}`,
      // Refused, a provider error or a stop after some tries: every try's usage is counted.
      ...(error instanceof PlannerFailedError ? { usage: error.usage } : {}),
    };
  } finally {
    parts.planners.delete(record.id);
  }
  if (dispatch.closing) return undefined; // left `planning`: the next server process fails it
  return dispatch.locked(record.id, async () => {
    const plan = await repository.getPlan(record.owner, record.id);
    if (plan?.status !== 'planning') return undefined;
    if (failure !== undefined || !written) {
      if (failure?.usage) {
        await dispatch.events.append(plan.id, { type: 'usage', total: failure.usage });
      }
      await dispatch.transition(
        plan,
        'failed',
        `the planner gave up: ${failure?.message ?? 'no plan'}`,
        failure?.usage ? { usage: failure.usage } : {},
      );
      return undefined;
    }
    const usage = written.usage;
    await dispatch.events.append(plan.id, { type: 'usage', total: usage });
    return dispatch.transition(plan, 'draft', `written by ${model}`, {
      summary: written.spec.summary,
      tickets: pendingItems(written.spec),
      usage,
      host: null,
      server: null,
    });
  });
}
