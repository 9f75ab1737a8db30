/**
 * What the ticket layer is built from, each behind a small interface so that a test (or another
 * implementation) can hand in its own: the projects it forks, the agent that works a ticket, the
 * model and role checks, and the evidence and review mechanics. A server wires the real ones
 * (`start-server.ts`); the TicketManager never names an implementation.
 */

import type { Agent, AgentRole } from '../agents/agent.ts';
import type { AgentSandbox } from '../agents/agent-sandbox.ts';
import type { ProjectConfig } from '../api/projects.ts';
import type { Evidence } from '../api/tickets.ts';
import type { ImportBranchOptions } from '../projects/project-git.ts';
import type { ProjectRecord } from '../state/state-repository.ts';
import type { AssembleEvidenceInput } from './evidence/assemble-evidence.ts';

/** The projects tickets start from (`ProjectManager` implements it). */
export interface TicketProjects {
  /** The owner's project; a NotFoundError for another owner's or a missing one. */
  get(owner: string, name: string): Promise<ProjectRecord>;
  /**
   * A ticket's own workspace `target`, a fork of the project workspace, its commit and the tree
   * of its files after the setup (the project's `setupTree`). When
   * `signal` aborts (a stop, a shutdown) before the fork began, it throws and forks nothing.
   */
  forkForTicket(
    owner: string,
    name: string,
    target: string,
    options?: { signal?: AbortSignal },
  ): Promise<{ workspace: string; commit: string; tree: string | null }>;
  /** An approved ticket's git bundle, checked and brought into the project repository as `branch`. */
  importBranch(
    owner: string,
    name: string,
    options: ImportBranchOptions,
  ): Promise<{ commit: string }>;
}

/**
 * Throws a clear error for an unknown provider or a missing key (the built-in agent's): a 4xx, since
 * it is the request's model to change, and a 5xx would reach its owner as only a code.
 */
export type CheckModel = (id: string, environment: NodeJS.ProcessEnv) => unknown;

/** A role by name (built-in, or from the project's config); throws for an unknown one. */
export type ResolveRole = (
  name: string,
  projectRoles: ProjectConfig['roles'],
) => AgentRole & { model?: string | null };

/** The platform's own checks after the agent: diff, tests, each criterion (helper C's). */
export type AssembleEvidence = (input: AssembleEvidenceInput) => Promise<Evidence>;

/** The approved result as a commit on `branch` in the ticket's sandbox, and a bundle of it. */
export type CommitApproved = (
  sandbox: AgentSandbox,
  options: {
    baseCommit: string;
    branch: string;
    message: string;
    authorName: string;
    authorEmail: string;
    /** The reviewed evidence's tree (`Evidence.tree`): committed exactly, not the working tree. */
    tree?: string | null;
    /** The ticket's `baseTree`: only what changed since it is committed, on `baseCommit`. */
    setupTree?: string | null;
  },
) => Promise<{ commit: string; bundle: Buffer; reviewedCommit?: string | null }>;

/** Everything but the projects: what `start-server.ts` wires in one place. */
export interface TicketAgentParts {
  agent: Agent;
  checkModel: CheckModel;
  resolveRole: ResolveRole;
  assembleEvidence: AssembleEvidence;
  commitApproved: CommitApproved;
}
