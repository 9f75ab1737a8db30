import type { Criterion, CriterionResult } from '../../api/tickets.ts';
import type { MagsContext } from '../../context/mags-context.ts';
import { InvalidInputError, NotFoundError } from '../../errors/mags-error.ts';
import type { LockedProject, ProjectManager } from '../../projects/project-manager.ts';
import { type WorkspaceSession, withWorkspaceSession } from '../../projects/workspace-session.ts';
import type { SandboxManager } from '../../sandboxes/sandbox-manager.ts';
import type { ProjectRecord, StateRepository } from '../../state/state-repository.ts';
import { defaultEvidenceTimeouts, maxDiffBytes } from '../../tickets/evidence/assemble-evidence.ts';
import { capText } from '../../tickets/evidence/cap-text.ts';
import { checkCriterion } from '../../tickets/evidence/check-criterion.ts';
import { BaseCommitMissingError } from '../../tickets/evidence/git-errors.ts';
import { takeDiff } from '../../tickets/evidence/take-diff.ts';
import { testEvidence } from '../../tickets/evidence/test-evidence.ts';
import { ownerWorkspaceName } from '../../workspaces/owner-workspace.ts';
import type { WorkspaceManager } from '../../workspaces/workspace-manager.ts';
import type { ApprovedResult, MergedFork, PlanCriteria, PlanGit } from '../plan-parts.ts';
import { checkOutMerge } from './check-out-merge.ts';
import { makeIntegrationBranch } from './integration-branch.ts';
import { type MergedResults, mergeRef, mergeResults } from './merge-results.ts';
import { checkObjectId, ResultCommitMissingError } from './plan-git-errors.ts';

export interface ProjectPlanGitOptions {
  context: MagsContext;
  repository: StateRepository;
  projects: Pick<ProjectManager, 'get' | 'inProjectWorkspace' | 'withLockedProject'>;
  /** Where tickets' sandboxes live: `discard` deletes one still on the fork. */
  sandboxes?: Pick<SandboxManager, 'delete'>;
  timeouts?: { gitMs?: number; testMs?: number; checkMs?: number };
}

type Integration = Awaited<ReturnType<PlanGit['integrate']>>;

/** A fork made by `#forkAt`, with the project as it was then. */
interface Forked extends MergedFork {
  /** The overlay for `alsoFor` (the integration's base with the setup's files). */
  alsoFor: string | null;
  project: ProjectRecord;
}

/**
 * The plan's git work on the project's repository (`PlanGit`), every step inside a sandbox: the
 * merge of approved results in the project workspace (kept at `refs/mags/merges/<workspace>`
 * there), a fork of the project workspace moved to that merge (both in one hold of the project's
 * lock), the integration's tests, criterion checks and diff in its own fork, and the plan's branch
 * and bundle.
 */
export class ProjectPlanGit implements PlanGit {
  readonly #context: MagsContext;
  readonly #repository: StateRepository;
  readonly #projects: ProjectPlanGitOptions['projects'];
  readonly #sandboxes: ProjectPlanGitOptions['sandboxes'];
  readonly #workspaces: WorkspaceManager;
  readonly #gitMs: number;
  readonly #testMs: number;
  readonly #checkMs: number;

  constructor(options: ProjectPlanGitOptions) {
    this.#context = options.context;
    this.#repository = options.repository;
    this.#projects = options.projects;
    this.#sandboxes = options.sandboxes;
    this.#workspaces = options.context.workspaceManager.withRecords(options.repository);
    this.#gitMs = options.timeouts?.gitMs ?? 300_000;
    this.#testMs = options.timeouts?.testMs ?? defaultEvidenceTimeouts.testMs;
    this.#checkMs = options.timeouts?.checkMs ?? defaultEvidenceTimeouts.checkMs;
  }

  async forkMerged(
    owner: string,
    project: string,
    target: string,
    results: ApprovedResult[],
    options: { signal?: AbortSignal; allowConflicts?: boolean; baseCommit?: string } = {},
  ): Promise<MergedFork> {
    if (options.baseCommit !== undefined) checkObjectId(options.baseCommit, 'base commit');
    const forked = await this.#forkAt(owner, project, target, { ...options, results });
    return {
      workspace: forked.workspace,
      commit: forked.commit,
      tree: forked.tree,
      conflicts: forked.conflicts,
    };
  }

  async integrate(
    owner: string,
    project: string,
    target: string,
    input: {
      baseCommit: string;
      results: ApprovedResult[];
      criteria?: PlanCriteria[];
      signal?: AbortSignal;
    },
  ): Promise<Integration> {
    const { signal, baseCommit } = input;
    if (!baseCommit) {
      throw new InvalidInputError("The plan's integration needs the plan's base commit.", {
        hint: 'A plan records the commit its project was at when it started; one without it never started: run it (mags plan approve ID) first.',
      });
    }
    checkObjectId(baseCommit, 'base commit');
    const started = Date.now();
    const forked = await this.#forkAt(owner, project, target, {
      results: input.results,
      baseCommit,
      alsoFor: baseCommit,
      signal,
    });
    const network = forked.project.network ?? false;
    const test = forked.project.test;
    return this.#discardOnFailure(owner, project, target, () =>
      this.#inFork(owner, target, { network }, async (session) => {
        // The diff first: the tests may write files (build output) that no ticket made.
        const diff = await takeDiff(session.sandbox, baseCommit, {
          setupTree: forked.alsoFor,
          timeoutMs: this.#gitMs,
          signal,
        });
        const run = async (command: string, timeoutMs: number) => {
          const ran = await session.sandbox.exec(command, {
            timeoutMs,
            cwd: '/workspace',
            signal,
          });
          signal?.throwIfAborted();
          return ran;
        };
        const tests = test ? testEvidence(test, await run(test, this.#testMs)) : null;
        const criteria: Integration['criteria'] = [];
        for (const { key, criteria: list } of input.criteria ?? []) {
          criteria.push({ key, results: await this.#checkAll(list, run) });
        }
        return {
          workspace: target,
          commit: forked.commit,
          tree: forked.tree,
          diff: capText(diff.diff, maxDiffBytes),
          diffStat: { files: diff.files },
          tests,
          criteria,
          durationMs: Date.now() - started,
        };
      }),
    );
  }

  approveIntegration(
    owner: string,
    project: string,
    input: { branch: string; commit: string; baseCommit: string },
  ): Promise<{ commit: string; bundle: Buffer }> {
    return this.#projects.inProjectWorkspace(owner, project, (session) =>
      makeIntegrationBranch(session.sandbox, { ...input, timeoutMs: this.#gitMs }),
    );
  }

  async discard(owner: string, project: string, workspace: string): Promise<void> {
    const record = await this.#repository.getProject(owner, project);
    if (record?.workspace === workspace) {
      throw new InvalidInputError(`${workspace} is project ${project}'s own workspace.`, {
        hint: 'Only a fork a plan made (a merged ticket workspace, an integration) is discarded.',
      });
    }
    for (const sandbox of await this.#repository.listSandboxes(owner)) {
      if (sandbox.workspace !== workspace) continue;
      await this.#sandboxes?.delete(owner, sandbox.name).catch(ignoreNotFound);
    }
    await this.#workspaces.delete(owner, workspace).catch(ignoreNotFound);
    if (!record) return; // its project is gone, with its repository
    await this.#projects
      .withLockedProject(owner, project, (locked) => deleteMergeRef(locked, workspace))
      .catch(ignoreNotFound);
  }

  /**
   * Merges `results` in the project workspace, forks it into `target` and checks the merge out
   * there (or `baseCommit` without results), in one hold of the project's lock: a refresh cannot
   * come between the merge and the fork. A failure after the fork deletes it and its merge's ref.
   */
  #forkAt(
    owner: string,
    project: string,
    target: string,
    input: {
      results: ApprovedResult[];
      baseCommit?: string;
      allowConflicts?: boolean;
      alsoFor?: string;
      signal?: AbortSignal;
    },
  ): Promise<Forked> {
    const { signal } = input;
    return this.#projects.withLockedProject(
      owner,
      project,
      async (locked) => {
        const merged = await this.#merge(locked, target, input);
        try {
          const fork = await locked.fork(target);
          const commit = merged?.commit ?? input.baseCommit ?? fork.commit;
          const conflicts = merged?.conflicts ?? [];
          const base = { workspace: target, commit, conflicts, project: locked.project };
          // At the project's commit with nothing else wanted: the fork is as a ticket's.
          if (commit === fork.commit && input.alsoFor === undefined) {
            return { ...base, tree: fork.tree, alsoFor: null };
          }
          try {
            const checkedOut = await this.#inFork(owner, target, { network: false }, (session) =>
              this.#checkOut(session, { ...input, commit, fork }),
            );
            return { ...base, tree: checkedOut.tree, alsoFor: checkedOut.alsoFor };
          } catch (error) {
            // The first error is the one to report; a fork that cannot be deleted now is left
            // for the caller's own clean-up of the workspace it named (`discard`).
            await this.#workspaces.delete(owner, target).catch(() => {});
            throw error;
          }
        } catch (error) {
          if (merged?.ref) await deleteMergeRef(locked, target).catch(() => {});
          throw error;
        }
      },
      { signal },
    );
  }

  /**
   * The results merged in the project workspace (null: none). One result is its own commit,
   * found in the fork (its approval brought it into the project's repository before the fork).
   */
  async #merge(
    locked: LockedProject,
    target: string,
    input: { results: ApprovedResult[]; allowConflicts?: boolean; signal?: AbortSignal },
  ): Promise<(MergedResults & { ref: boolean }) | null> {
    const [first, second] = input.results;
    if (!first) return null;
    if (!second) return { commit: first.commit, conflicts: [], ref: false };
    const merged = await locked.inWorkspace((session) =>
      mergeResults(session.sandbox, {
        results: input.results,
        ref: mergeRef(target),
        timeoutMs: this.#gitMs,
        signal: input.signal,
        allowConflicts: input.allowConflicts,
      }),
    );
    return { ...merged, ref: true };
  }

  async #checkOut(
    session: WorkspaceSession,
    input: {
      commit: string;
      fork: { commit: string; tree: string | null };
      results: ApprovedResult[];
      alsoFor?: string;
      signal?: AbortSignal;
    },
  ) {
    try {
      return await checkOutMerge(session.sandbox, {
        merge: input.commit,
        projectCommit: input.fork.commit,
        setupTree: input.fork.tree,
        alsoFor: input.alsoFor,
        timeoutMs: this.#gitMs,
        signal: input.signal,
      });
    } catch (error) {
      const [only] = input.results;
      if (error instanceof BaseCommitMissingError && input.results.length === 1 && only) {
        throw new ResultCommitMissingError(only.ticket, only.commit, error.message);
      }
      throw error;
    }
  }

  /** Every criterion's check run on the integration (the ticket evidence's own verdict). */
  async #checkAll(
    criteria: Criterion[],
    run: (command: string, timeoutMs: number) => ReturnType<WorkspaceSession['sandbox']['exec']>,
  ): Promise<CriterionResult[]> {
    const results: CriterionResult[] = [];
    for (const [index, criterion] of criteria.entries()) {
      results.push(
        await checkCriterion(criterion, index, {
          claim: null,
          run: (command) => run(command, this.#checkMs),
        }),
      );
    }
    return results;
  }

  #inFork<T>(
    owner: string,
    target: string,
    options: { network: boolean },
    work: (session: WorkspaceSession) => Promise<T>,
  ): Promise<T> {
    return withWorkspaceSession(
      this.#context,
      {
        workspace: ownerWorkspaceName(owner, target),
        network: options.network,
        labels: { kind: 'plan', owner, name: target },
      },
      (_sandbox, session) => work(session),
    );
  }

  /** Nothing half-made is left: a fork whose tests or checks failed to run is discarded. */
  async #discardOnFailure<T>(
    owner: string,
    project: string,
    target: string,
    work: () => Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      await this.discard(owner, project, target).catch(() => {});
      throw error;
    }
  }
}

/** Deletes the ref of `workspace`'s merge in the project's repository; a missing one is fine. */
async function deleteMergeRef(locked: LockedProject, workspace: string): Promise<void> {
  const ref = mergeRef(workspace);
  const result = await locked.inWorkspace((session) =>
    session.run(['git', '-c', 'core.hooksPath=/dev/null', 'update-ref', '-d', ref]),
  );
  if (result.exitCode !== 0) {
    throw new Error(`git update-ref -d ${ref} failed: ${result.tail.trim()}`);
  }
}

const ignoreNotFound = (error: unknown) => {
  if (!(error instanceof NotFoundError)) throw error;
};
