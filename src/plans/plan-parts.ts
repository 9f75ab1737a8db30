/**
 * What plans are built from, each behind a small interface (as for tickets, `ticket-parts.ts`):
 * the planner that turns a request into a plan, and the git work on the project's repository
 * that starts a ticket from its dependencies' results and integrates the plan. A server wires the
 * real ones; the PlanManager never names an implementation.
 */
import type { PlanSpec } from '../api/plans.ts';
import type { Criterion, CriterionResult, Evidence, TokenUsage } from '../api/tickets.ts';
import { ConflictError } from '../errors/mags-error.ts';
import type { ProjectRecord } from '../state/state-repository.ts';

/** An approved ticket's commit, as merged into a dependent's workspace or the integration. */
export interface ApprovedResult {
  key: string;
  ticket: string;
  commit: string;
}

/** A fresh workspace with results merged in: what a ticket starts from (its base). */
export interface MergedWorkspace {
  workspace: string;
  /** The merge (or the one result's commit): the ticket's `baseCommit`. */
  commit: string;
  /** Its files with the project's setup laid over (the ticket's `baseTree`); null: `commit`'s. */
  tree: string | null;
}

/** A fork `forkMerged` made: the paths left with conflict markers (only with `allowConflicts`). */
export type MergedFork = MergedWorkspace & { conflicts: string[] };

/** A ticket's criteria, to be checked again on the plan's integration. */
export interface PlanCriteria {
  key: string;
  criteria: Criterion[];
}

export interface PlanGit {
  /**
   * Forks the owner's project workspace into `target` with `results` merged in order (their
   * commits are in its repository as `mags/<ticket>` branches since they were approved), the
   * merge checked out over the project's setup files and HEAD at it. Without results the fork is
   * at `baseCommit` (the plan's: a project refreshed since is not in it), or the project's commit
   * without one. The merge, fork and checkout are one hold of the project's lock, so no refresh
   * comes between them. Throws `MergeConflictError` (and leaves no workspace behind) when two
   * results change the same lines; with `allowConflicts` the merge is made with conflict markers
   * in those files, checked out as usual, and the paths returned in `conflicts` (a ticket
   * resolves them, and its approved commit is on that merge).
   */
  forkMerged(
    owner: string,
    project: string,
    target: string,
    results: ApprovedResult[],
    options?: { signal?: AbortSignal; allowConflicts?: boolean; baseCommit?: string },
  ): Promise<MergedFork>;
  /**
   * The plan's integration: every result merged in order into `target` on `baseCommit` (as
   * `forkMerged`), the project's test command and every ticket's criterion checks (`criteria`,
   * each with its timeout) run there, and the combined diff against `baseCommit` with the
   * project's setup files (what one review of the whole plan shows). The criteria results are
   * the merged result's, not copied from each ticket's workspace (which its agent controlled).
   */
  integrate(
    owner: string,
    project: string,
    target: string,
    input: {
      baseCommit: string;
      results: ApprovedResult[];
      criteria?: PlanCriteria[];
      signal?: AbortSignal;
    },
  ): Promise<
    MergedWorkspace &
      Pick<Evidence, 'diff' | 'diffStat' | 'tests'> & {
        criteria: { key: string; results: CriterionResult[] }[];
        durationMs: number;
      }
  >;
  /**
   * Makes `branch` (`mags/plan-<id>`) point at the integration commit in the project's
   * repository and returns a git bundle of it with `baseCommit` as its prerequisite (what
   * `mags plan apply` fetches, as for tickets).
   */
  approveIntegration(
    owner: string,
    project: string,
    input: { branch: string; commit: string; baseCommit: string },
  ): Promise<{ commit: string; bundle: Buffer }>;
  /**
   * Deletes a fork `forkMerged` or `integrate` made: the sandbox on it if any, the workspace,
   * and its merge's ref in the project's repository. One already gone is fine.
   */
  discard(owner: string, project: string, workspace: string): Promise<void>;
}

/** Two results change the same lines: named, never resolved silently. */
export class MergeConflictError extends ConflictError {
  readonly files: string[];
  constructor(what: string, files: string[], hint?: string) {
    super(
      `${what}: the results conflict in ${files.length === 1 ? '1 file' : `${files.length} files`}: ${files.join(', ')}`,
      {
        code: 'merge_conflict',
        hint:
          hint ??
          'mags plan retry <plan> <ticket> starts the ticket in conflict from the conflicting merge, resolving it as its first task (an integration conflict: mags plan retry <plan> resolve-integration).',
      },
    );
    this.files = files;
  }
}

/**
 * Writes a plan for a request: the structured output of a model, validated (`PlanSpecSchema` and
 * `checkPlanGraph`) and asked again with the reason when it is not valid, up to a limit; then a
 * clear error. `onAttempt` is told of each try (the plan's `planner` events).
 */
export type Planner = (input: {
  project: ProjectRecord;
  request: string;
  model: string;
  signal?: AbortSignal;
  environment: NodeJS.ProcessEnv;
  onAttempt(attempt: { attempt: number; accepted: boolean; message: string }): void;
}) => Promise<{ spec: PlanSpec; usage: TokenUsage }>;
