import type { MagsContext } from '../../context/mags-context.ts';
import type { ProjectManager } from '../../projects/project-manager.ts';
import { type WorkspaceSession, withWorkspaceSession } from '../../projects/workspace-session.ts';
import type { StateRepository } from '../../state/state-repository.ts';
import { defaultEvidenceTimeouts, maxDiffBytes } from '../../tickets/evidence/assemble-evidence.ts';
import { capText } from '../../tickets/evidence/cap-text.ts';
import { BaseCommitMissingError } from '../../tickets/evidence/git-errors.ts';
import { takeDiff } from '../../tickets/evidence/take-diff.ts';
import { testEvidence } from '../../tickets/evidence/test-evidence.ts';
import { ownerWorkspaceName } from '../../workspaces/owner-workspace.ts';
import type { WorkspaceManager } from '../../workspaces/workspace-manager.ts';
import type { ApprovedResult, MergedWorkspace, PlanGit } from '../plan-parts.ts';
import { checkOutMerge } from './check-out-merge.ts';
import { makeIntegrationBranch } from './integration-branch.ts';
import { mergeRef, mergeResults } from './merge-results.ts';
import { ResultCommitMissingError } from './plan-git-errors.ts';

export interface ProjectPlanGitOptions {
  context: MagsContext;
  repository: StateRepository;
  projects: Pick<ProjectManager, 'get' | 'forkForTicket' | 'inProjectWorkspace'>;
  timeouts?: { gitMs?: number; testMs?: number };
}

type Integration = Awaited<ReturnType<PlanGit['integrate']>>;

/**
 * The plan's git work on the project's repository (`PlanGit`), every step inside a sandbox: the
 * merge of approved results in the project workspace (under the project's lock, kept at
 * `refs/mags/merges/<workspace>` there), a fork of the project workspace moved to that merge, the
 * integration's tests and diff in its own fork, and the plan's branch and bundle.
 */
export class ProjectPlanGit implements PlanGit {
  readonly #context: MagsContext;
  readonly #projects: ProjectPlanGitOptions['projects'];
  readonly #workspaces: WorkspaceManager;
  readonly #gitMs: number;
  readonly #testMs: number;

  constructor(options: ProjectPlanGitOptions) {
    this.#context = options.context;
    this.#projects = options.projects;
    this.#workspaces = options.context.workspaceManager.withRecords(options.repository);
    this.#gitMs = options.timeouts?.gitMs ?? 300_000;
    this.#testMs = options.timeouts?.testMs ?? defaultEvidenceTimeouts.testMs;
  }

  async forkMerged(
    owner: string,
    project: string,
    target: string,
    results: ApprovedResult[],
    options: { signal?: AbortSignal } = {},
  ): Promise<MergedWorkspace> {
    const merge = await this.#merge(owner, project, target, results, options.signal);
    const fork = await this.#projects.forkForTicket(owner, project, target, options);
    // No result, or results all in the project's commit: the fork is as a ticket's.
    if (merge === null || merge === fork.commit) return fork;
    return this.#removeOnFailure(owner, target, () =>
      this.#inFork(owner, target, { network: false }, async (session) => {
        const { tree } = await this.#checkOut(session, { merge, fork, results }, options.signal);
        return { workspace: target, commit: merge, tree };
      }),
    );
  }

  async integrate(
    owner: string,
    project: string,
    target: string,
    input: { baseCommit: string; results: ApprovedResult[]; signal?: AbortSignal },
  ): Promise<Integration> {
    const started = Date.now();
    const { signal } = input;
    const record = await this.#projects.get(owner, project);
    const merge = await this.#merge(owner, project, target, input.results, signal);
    const fork = await this.#projects.forkForTicket(owner, project, target, { signal });
    const commit = merge ?? fork.commit;
    return this.#removeOnFailure(owner, target, () =>
      this.#inFork(owner, target, { network: record.network ?? false }, async (session) => {
        const checkedOut = await this.#checkOut(
          session,
          { merge: commit, fork, results: input.results, alsoFor: input.baseCommit },
          signal,
        );
        // The diff first: the tests may write files (build output) that no ticket made.
        const diff = await takeDiff(session.sandbox, input.baseCommit, {
          setupTree: checkedOut.alsoFor,
          timeoutMs: this.#gitMs,
          signal,
        });
        let tests: Integration['tests'] = null;
        if (record.test) {
          const ran = await session.sandbox.exec(record.test, {
            timeoutMs: this.#testMs,
            cwd: '/workspace',
            signal,
          });
          signal?.throwIfAborted();
          tests = testEvidence(record.test, ran);
        }
        return {
          workspace: target,
          commit,
          tree: checkedOut.tree,
          diff: capText(diff.diff, maxDiffBytes),
          diffStat: { files: diff.files },
          tests,
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

  /**
   * The results merged in the project workspace (null: none). One result is its own commit,
   * found in the fork (its approval brought it into the project's repository before the fork).
   */
  async #merge(
    owner: string,
    project: string,
    target: string,
    results: ApprovedResult[],
    signal: AbortSignal | undefined,
  ): Promise<string | null> {
    const [first] = results;
    if (!first) return null;
    if (results.length === 1) return first.commit;
    return this.#projects.inProjectWorkspace(
      owner,
      project,
      (session) =>
        mergeResults(session.sandbox, {
          results,
          ref: mergeRef(target),
          timeoutMs: this.#gitMs,
          signal,
        }),
      { signal },
    );
  }

  async #checkOut(
    session: WorkspaceSession,
    input: {
      merge: string;
      fork: { commit: string; tree: string | null };
      results: ApprovedResult[];
      alsoFor?: string;
    },
    signal: AbortSignal | undefined,
  ) {
    try {
      return await checkOutMerge(session.sandbox, {
        merge: input.merge,
        projectCommit: input.fork.commit,
        setupTree: input.fork.tree,
        alsoFor: input.alsoFor,
        timeoutMs: this.#gitMs,
        signal,
      });
    } catch (error) {
      const [only] = input.results;
      if (error instanceof BaseCommitMissingError && input.results.length === 1 && only) {
        throw new ResultCommitMissingError(only.ticket, only.commit, error.message);
      }
      throw error;
    }
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

  /** Nothing half-made is left: a fork whose checkout (or tests) failed is deleted. */
  async #removeOnFailure<T>(owner: string, target: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      // The first error is the one to report; a fork that cannot be deleted now (a sandbox
      // still on it) is left for the caller's own clean-up of the workspace it named.
      await this.#workspaces.delete(owner, target).catch(() => {});
      throw error;
    }
  }
}
