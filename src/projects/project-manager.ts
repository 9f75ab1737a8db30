import type { z } from '@hono/zod-openapi';
import type { AgentSandbox } from '../agents/agent-sandbox.ts';
import { checkModelProvider } from '../agents/resolve-model.ts';
import type {
  CreateProjectBodySchema,
  ProjectConfig,
  UpdateProjectBodySchema,
} from '../api/projects.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { ConflictError, NotFoundError } from '../errors/mags-error.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { ProjectRecord, StateRepository } from '../state/state-repository.ts';
import { localOwner, ownerWorkspaceName } from '../workspaces/owner-workspace.ts';
import type { WorkspaceManager } from '../workspaces/workspace-manager.ts';
import {
  bundleHostRepository,
  checkHostPathAllowed,
  checkRepositoryLocation,
  isRepositoryUrl,
  projectRoots,
} from './host-repository.ts';
import { readProjectConfig } from './project-config.ts';
import { checkProjectDeletable } from './project-delete-checks.ts';
import { projectExistsError, projectNotFoundError } from './project-errors.ts';
import { type ImportBranchOptions, projectGit, sandboxBundlePath } from './project-git.ts';
import { ProjectLocks } from './project-lock.ts';
import { settleProjectFields, setUpProject } from './project-setup.ts';
import { type WorkspaceSession, withWorkspaceSession } from './workspace-session.ts';

export type CreateProjectBody = z.infer<typeof CreateProjectBodySchema>;
export type UpdateProjectBody = z.infer<typeof UpdateProjectBodySchema>;
export interface ProjectProgress {
  /** Output of the clone and the setup as it comes (the CLI shows it). */
  onOutput?(text: string): void;
}

/**
 * The project workspace's name in its owner's words: `project.NAME`. Projects own this name: a
 * create refuses when the owner already has a workspace of that name, and the README tells users
 * to leave `project.*` names to projects.
 */
export const projectWorkspaceName = (project: string) => `project.${project}`;

export interface ProjectManagerOptions {
  context: MagsContext;
  repository: StateRepository;
  /** Where tickets' sandboxes live (named like the ticket): deleting a project deletes them. */
  sandboxes?: Pick<SandboxManager, 'delete'>;
  /**
   * The directories other owners than `local` may import host repositories from (default:
   * MAGS_PROJECT_ROOTS); with none, only the host's own local server imports paths.
   */
  roots?: readonly string[];
  /**
   * The tickets' actions (the TicketManager): a deletion runs once none on the project's tickets
   * is in progress, and refuses new ones meanwhile (an approval writing its bundle, a `run`
   * starting a ticket's sandbox on a workspace about to go).
   */
  tickets?: ProjectTicketActions;
}

/** A project while its lock is held (`ProjectManager.withLockedProject`). */
export interface LockedProject {
  project: ProjectRecord;
  /** Forks the ready project workspace into `target`: the commit and setup tree it is at. */
  fork(target: string): Promise<{ workspace: string; commit: string; tree: string | null }>;
  /** A session on the project workspace (no network: only git runs in it). */
  inWorkspace<T>(work: (session: WorkspaceSession) => Promise<T>): Promise<T>;
}

export interface ProjectTicketActions {
  whileDeletingProject<T>(owner: string, project: string, action: () => Promise<T>): Promise<T>;
}

/**
 * Projects (GUIDE §5): a repository imported into a project workspace, its setup run there once,
 * so that tickets fork a workspace with dependencies installed. The host only reads the
 * repository (a bundle of it); every git command and the setup run inside a sandbox on the
 * project workspace. Imports, refreshes, forks and deletion of one project never overlap.
 */
export class ProjectManager {
  readonly #context: MagsContext;
  readonly #repository: StateRepository;
  readonly #workspaces: WorkspaceManager;
  readonly #sandboxes: Pick<SandboxManager, 'delete'> | undefined;
  readonly #roots: readonly string[];
  readonly #tickets: ProjectTicketActions | undefined;
  readonly #locks = new ProjectLocks();

  constructor(options: ProjectManagerOptions) {
    this.#context = options.context;
    this.#repository = options.repository;
    this.#workspaces = options.context.workspaceManager.withRecords(options.repository);
    this.#sandboxes = options.sandboxes;
    this.#roots = options.roots ?? projectRoots();
    this.#tickets = options.tickets;
  }

  list(owner: string): Promise<ProjectRecord[]> {
    return this.#repository.listProjects(owner);
  }

  async get(owner: string, name: string): Promise<ProjectRecord> {
    const project = await this.#repository.getProject(owner, name);
    if (!project) throw projectNotFoundError(name);
    return project;
  }

  /**
   * Imports the repository and runs the setup. A failing setup leaves the project `failed` with
   * the reason (refresh retries); a failure before the repository is usable leaves nothing.
   */
  create(owner: string, body: CreateProjectBody, progress: ProjectProgress = {}) {
    return this.#locks.run(owner, body.name, async (): Promise<ProjectRecord> => {
      // The provider now (its key may be set later), not at the first ticket after the import.
      if (body.model) checkModelProvider(body.model);
      if (await this.#repository.getProject(owner, body.name)) throw projectExistsError(body.name);
      const workspace = projectWorkspaceName(body.name);
      const storageName = ownerWorkspaceName(owner, workspace);
      if (await this.#context.workspaces.get(storageName)) {
        throw new ConflictError(`A workspace named ${workspace} exists already.`, {
          code: 'project_workspace_exists',
          hint: `Project workspaces are named project.NAME: delete that workspace (mags workspace delete ${workspace}) or name the project differently.`,
        });
      }
      const network = body.network ?? false;
      const bundle = await this.#readRepository(owner, body.repo, network);
      const now = new Date().toISOString();
      const record: ProjectRecord = {
        owner,
        name: body.name,
        repo: body.repo,
        ref: body.ref ?? null,
        workspace,
        commit: null,
        setupTree: null,
        setup: body.setup ?? null,
        test: body.test ?? null,
        model: body.model ?? null,
        config: {},
        status: 'importing',
        reason: null,
        network,
        createdAt: now,
        updatedAt: now,
      };
      await this.#repository.insertProject(record);
      let usable = false;
      try {
        return await withWorkspaceSession(
          this.#context,
          { workspace: storageName, network, labels: labels(owner, body.name) },
          async (sandbox, session) => {
            const { commit, config } = await pullRepository(sandbox, session, 'clone', {
              bundle,
              repo: body.repo,
              ref: record.ref,
              onOutput: progress.onOutput,
            });
            usable = true;
            // Flags win over the repository's file.
            const settled = {
              ...record,
              commit,
              config,
              ...settleProjectFields(record, {}, config),
            };
            return await setUpProject(this.#repository, session, settled, progress.onOutput);
          },
        );
      } catch (error) {
        if (usable) await this.#markFailed(record, error);
        else await this.#discard(owner, body.name, workspace);
        throw error;
      } finally {
        await bundle?.cleanup();
      }
    });
  }

  /** Changes the commands, model or repository; `null` falls back to the repository's file. */
  update(owner: string, name: string, body: UpdateProjectBody): Promise<ProjectRecord> {
    return this.#locks.run(owner, name, async () => {
      if (body.model) checkModelProvider(body.model);
      const project = await this.get(owner, name);
      if (body.repo !== undefined) {
        checkRepositoryLocation(body.repo, project.network ?? false);
        if (!isRepositoryUrl(body.repo)) await checkHostPathAllowed(owner, body.repo, this.#roots);
      }
      const fallback = (field: 'setup' | 'test' | 'model') => {
        const value = body[field];
        if (value === undefined) return project[field];
        return value ?? project.config[field] ?? null;
      };
      await this.#repository.updateProject(owner, name, {
        ...(body.repo !== undefined ? { repo: body.repo } : {}),
        setup: fallback('setup'),
        test: fallback('test'),
        model: fallback('model'),
        updatedAt: new Date().toISOString(),
      });
      return this.get(owner, name);
    });
  }

  /** Pulls new commits from the repository, reads its file again and re-runs the setup. */
  refresh(owner: string, name: string, progress: ProjectProgress = {}): Promise<ProjectRecord> {
    return this.#locks.run(owner, name, async () => {
      const project = await this.get(owner, name);
      const network = project.network ?? false;
      const bundle = await this.#readRepository(owner, project.repo, network);
      try {
        return await withWorkspaceSession(
          this.#context,
          {
            workspace: ownerWorkspaceName(owner, project.workspace),
            network,
            labels: labels(owner, name),
          },
          async (sandbox, session) => {
            const { commit, config } = await pullRepository(sandbox, session, 'fetch', {
              bundle,
              repo: project.repo,
              ref: project.ref,
              onOutput: progress.onOutput,
            });
            const settled = {
              ...project,
              commit,
              config,
              ...settleProjectFields(project, project.config, config),
            };
            return await setUpProject(this.#repository, session, settled, progress.onOutput);
          },
        );
      } catch (error) {
        await this.#markFailed(project, error);
        throw error;
      } finally {
        await bundle?.cleanup();
      }
    });
  }

  /**
   * Deletes the project, its workspace, its tickets (their sandboxes, workspaces and records) and
   * its plans (their records and forks). Everything that would stop it is checked before anything
   * is deleted (`checkProjectDeletable`): a ticket queued or running, a plan at work, another
   * sandbox on one of these workspaces, a fork of the project's workspace that is neither a
   * ticket's nor a plan's.
   */
  delete(owner: string, name: string): Promise<void> {
    // The tickets' actions first, then the project's lock (an approval takes them in that order).
    if (this.#tickets) {
      return this.#tickets.whileDeletingProject(owner, name, () => this.#delete(owner, name));
    }
    return this.#delete(owner, name);
  }

  #delete(owner: string, name: string): Promise<void> {
    return this.#locks.run(owner, name, async () => {
      const project = await this.get(owner, name);
      const tickets = await this.#repository.listTickets({ owner, project: name });
      const { planForks } = checkProjectDeletable({
        owner,
        project,
        tickets,
        plans: await this.#repository.listPlans({ owner, project: name }),
        sandboxes: await this.#repository.listSandboxes(owner),
        forks: await this.#context.workspaces.forksOf(ownerWorkspaceName(owner, project.workspace)),
      });
      // Each ticket's sandbox holds its workspace, and tickets' workspaces are forks of the
      // project's, which cannot go while they build on it.
      for (const ticket of tickets) {
        await this.#sandboxes?.delete(owner, ticket.id).catch(ignoreNotFound);
        if (ticket.workspace) await this.#deleteWorkspace(owner, ticket.workspace);
      }
      // Its plans' merges and integrations (their sandboxes were stopped when their work ended).
      for (const fork of planForks) await this.#deleteWorkspace(owner, fork);
      await this.#deleteWorkspace(owner, project.workspace);
      await this.#repository.deleteProject(owner, name);
    });
  }

  /**
   * A ticket's own workspace: a fork of the project workspace (copy-on-write), taken while
   * nothing writes the project workspace; returns the commit it was forked at and the tree of its
   * files after the setup (`setupTree`, null for a project set up before it was recorded). With `signal`,
   * it stops waiting for a refresh (its setup can take minutes) when the signal aborts.
   */
  forkForTicket(
    owner: string,
    name: string,
    target: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ workspace: string; commit: string; tree: string | null }> {
    return this.withLockedProject(owner, name, (locked) => locked.fork(target), options);
  }

  /**
   * Runs `work` in a session on the owner's ready project workspace, under the project's lock (no
   * import, refresh, fork or approval meanwhile): the plan's git steps (merging approved results,
   * making a plan's branch) run here. The session has no network: only git runs in it.
   */
  inProjectWorkspace<T>(
    owner: string,
    name: string,
    work: (session: WorkspaceSession, project: ProjectRecord) => Promise<T>,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.withLockedProject(
      owner,
      name,
      (locked) => {
        checkProjectReady(locked.project);
        return locked.inWorkspace((session) => work(session, locked.project));
      },
      options,
    );
  }

  /**
   * Runs `work` under the project's lock, given the project and its workspace's steps, so that
   * several (a plan's merge in the project workspace, then a fork of it) see one commit: no
   * import, refresh, fork or approval comes between them. The project need not be ready (a
   * plan's clean-up runs on a failed one too); `fork` of one that is not is a 409. Nothing in
   * `work` may take the project's lock again (it would wait for itself).
   */
  withLockedProject<T>(
    owner: string,
    name: string,
    work: (locked: LockedProject) => Promise<T>,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.#locks.run(
      owner,
      name,
      async () => {
        const project = await this.get(owner, name);
        return work({
          project,
          fork: async (target) => {
            const commit = checkProjectReady(project);
            await this.#workspaces.fork(owner, project.workspace, target);
            return { workspace: target, commit, tree: project.setupTree };
          },
          inWorkspace: (inside) =>
            withWorkspaceSession(
              this.#context,
              {
                workspace: ownerWorkspaceName(owner, project.workspace),
                labels: labels(owner, name),
              },
              (_sandbox, session) => inside(session),
            ),
        });
      },
      options.signal,
    );
  }

  /**
   * Brings an approved ticket's git bundle into the project repository as `branch`, once git
   * there has checked that it holds `commit`, on `baseCommit`, with the reviewed `tree`.
   */
  importBranch(
    owner: string,
    name: string,
    options: ImportBranchOptions,
  ): Promise<{ commit: string }> {
    return this.#locks.run(owner, name, async () => {
      const project = await this.get(owner, name);
      return withWorkspaceSession(
        this.#context,
        { workspace: ownerWorkspaceName(owner, project.workspace), labels: labels(owner, name) },
        async (_sandbox, session) => {
          await session.runtimeSandbox.writeFile(sandboxBundlePath, options.bundle);
          return { commit: await projectGit.importBranch(session, options) };
        },
      );
    });
  }

  /**
   * Projects left `importing` by a server that stopped mid-import (it answers only when done):
   * marked failed with why (its workspace may hold half a clone: deleting it and creating it
   * again is the way back). Called once as the server starts.
   */
  async recoverInterrupted(): Promise<ProjectRecord[]> {
    const interrupted = await this.#repository.projectsInStatus(['importing']);
    for (const project of interrupted) {
      await this.#markFailed(
        project,
        new Error(
          `The server stopped while importing it: delete it (mags project delete ${project.name}) and create it again.`,
        ),
      );
    }
    return interrupted;
  }

  /**
   * Checks where the repository is and that this owner may read it; a host path is bundled
   * (the caller removes the bundle), a URL is cloned in the sandbox (undefined).
   */
  async #readRepository(owner: string, repo: string, network: boolean) {
    checkRepositoryLocation(repo, network);
    if (isRepositoryUrl(repo)) return undefined;
    return bundleHostRepository(await checkHostPathAllowed(owner, repo, this.#roots), {
      confined: owner !== localOwner,
    });
  }

  async #markFailed(project: ProjectRecord, error: unknown): Promise<void> {
    await this.#repository.updateProject(project.owner, project.name, {
      status: 'failed',
      reason: (error as Error).message,
      updatedAt: new Date().toISOString(),
    });
  }

  /** Undoes a create that failed before the repository was usable: no record, no workspace. */
  async #discard(owner: string, name: string, workspace: string): Promise<void> {
    await this.#deleteWorkspace(owner, workspace);
    await this.#repository.deleteProject(owner, name);
  }

  async #deleteWorkspace(owner: string, workspace: string): Promise<void> {
    await this.#workspaces.delete(owner, workspace).catch(ignoreNotFound);
  }
}

/** A project tickets and plans can start from: ready, at a commit (returned). */
function checkProjectReady(project: ProjectRecord): string {
  if (project.status !== 'ready' || project.commit === null) {
    throw new ConflictError(`Project ${project.name} is not ready (${project.status}).`, {
      code: 'project_not_ready',
      hint: project.reason
        ? `${project.reason}\nFix it and run mags project refresh ${project.name}.`
        : `Wait for its import to finish (mags project show ${project.name}).`,
    });
  }
  return project.commit;
}

const ignoreNotFound = (error: unknown) => {
  if (!(error instanceof NotFoundError)) throw error;
};

/**
 * Brings the repository into the session's /workspace (a clone on import, a fetch on refresh),
 * from the host's bundle or the URL, and reads what it then says of itself (.mags/project.json).
 */
async function pullRepository(
  sandbox: AgentSandbox,
  session: WorkspaceSession,
  how: 'clone' | 'fetch',
  options: {
    bundle: { file: string } | undefined;
    repo: string;
    ref: string | null;
    onOutput: ProjectProgress['onOutput'];
  },
): Promise<{ commit: string; config: ProjectConfig }> {
  const { bundle } = options;
  if (bundle) await projectGit.putBundle(session, bundle.file);
  await projectGit[how](session, {
    source: bundle ? sandboxBundlePath : options.repo,
    repo: options.repo,
    ref: options.ref,
    onOutput: options.onOutput,
  });
  if (bundle) await projectGit.removeBundle(session);
  return { commit: await projectGit.head(session), config: await readProjectConfig(sandbox) };
}

const labels = (owner: string, project: string) => ({ kind: 'project', owner, name: project });
