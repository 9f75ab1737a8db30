import type { CreatePlanBody, EditPlanBody, PlanEvent, PlanEvidence } from '../api/plans.ts';
import type { Budget } from '../api/tickets.ts';
import type { PlanRecord } from '../state/state-repository.ts';

/**
 * What the plan routes ask of the PlanManager (src/plans/): its public methods, by owner (another
 * owner's plan is a NotFoundError), errors as MagsErrors the error handler maps to statuses.
 */
export interface PlanService {
  /** Stored at once; a planner writes it in the background (`planning`) unless `spec` is given. */
  create(owner: string, body: CreatePlanBody): Promise<PlanRecord>;
  list(
    owner: string,
    filter?: { project?: string; status?: PlanRecord['status'] },
  ): Promise<PlanRecord[]>;
  get(owner: string, id: string): Promise<PlanRecord>;
  /** A draft's whole spec replaced, checked as the planner's is. */
  editSpec(owner: string, id: string, spec: EditPlanBody): Promise<PlanRecord>;
  /** draft → running; awaiting_review → approved (branch `mags/plan-<id>`). */
  approve(
    owner: string,
    id: string,
    options: { by: string; message?: string; authorName?: string; authorEmail?: string },
  ): Promise<PlanRecord>;
  retry(
    owner: string,
    id: string,
    options: { ticket: string; budget?: Budget },
  ): Promise<PlanRecord>;
  stop(owner: string, id: string, options: { by: string; reason?: string }): Promise<PlanRecord>;
  close(owner: string, id: string, options: { by: string }): Promise<PlanRecord>;
  events(
    owner: string,
    id: string,
    options?: { after?: number; follow?: boolean; signal?: AbortSignal },
  ): AsyncGenerator<PlanEvent>;
  evidence(owner: string, id: string): Promise<PlanEvidence>;
  bundle(owner: string, id: string): Promise<Buffer>;
}
