import type { Plan } from './plans.ts';

/**
 * Whether a plan moves on by itself: the planner writes it, its tickets run, or it integrates; or
 * it is a draft with `auto`, which the server approves right after it is written (the draft is
 * stored first, under the plan's lock, and approval follows). Followers and `wait` wait through
 * these; every other plan is settled until a person acts.
 */
export function isPlanMoving(plan: Pick<Plan, 'status' | 'auto'>): boolean {
  return (
    plan.status === 'planning' ||
    plan.status === 'running' ||
    plan.status === 'integrating' ||
    (plan.status === 'draft' && plan.auto)
  );
}
