import type { z } from '@hono/zod-openapi';
import type { CreateProjectBodySchema, UpdateProjectBodySchema } from '../api/projects.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { ConflictError, NotFoundError } from '../errors/mags-error.ts';
import type { ProjectRecord, StateRepository } from '../state/state-repository.ts';
import { ownerWorkspaceName } from '../workspaces/owner-workspace.ts';
import type { WorkspaceManager } from '../workspaces/workspace-manager.ts';
import {
  bundleHostRepository,
  checkRepositoryLocation,
  isRepositoryUrl,
} from './host-repository.ts';
import { readProjectConfig } from './project-config.ts';
import { projectExistsError, projectNotFoundError } from './project-errors.ts';
import { projectGit, sandboxBundlePath } from './project-git.ts';
import { ProjectLocks } from './project-lock.ts';
import { settleProjectFields, setUpProject } from './project-setup.ts';
import { withWorkspaceSession } from './workspace-session.ts';

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
  readonly #locks = new ProjectLocks();

  constructor(options: { context: MagsContext; repository: StateRepository }) {
    this.#context = options.context;
    this.#repository = options.repository;
    this.#workspaces = options.context.workspaceManager.withRecords(options.repository);
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
      checkRepositoryLocation(body.repo, network);
      const bundle = isRepositoryUrl(body.repo) ? undefined : await bundleHostRepository(body.repo);
      const now = new Date().toISOString();
      const record: ProjectRecord = {
        owner,
        name: body.name,
        repo: body.repo,
        ref: body.ref ?? null,
        workspace,
        commit: null,
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
            if (bundle) await projectGit.putBundle(session, bundle.file);
            await projectGit.clone(session, {
              source: bundle ? sandboxBundlePath : body.repo,
              repo: body.repo,
              ref: record.ref,
              onOutput: progress.onOutput,
            });
            if (bundle) await projectGit.removeBundle(session);
            const commit = await projectGit.head(session);
            const config = await readProjectConfig(sandbox);
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
      const project = await this.get(owner, name);
      if (body.repo !== undefined) checkRepositoryLocation(body.repo, project.network ?? false);
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
      checkRepositoryLocation(project.repo, network);
      const bundle = isRepositoryUrl(project.repo)
        ? undefined
        : await bundleHostRepository(project.repo);
      try {
        return await withWorkspaceSession(
          this.#context,
          {
            workspace: ownerWorkspaceName(owner, project.workspace),
            network,
            labels: labels(owner, name),
          },
          async (sandbox, session) => {
            if (bundle) await projectGit.putBundle(session, bundle.file);
            await projectGit.fetch(session, {
              source: bundle ? sandboxBundlePath : project.repo,
              repo: project.repo,
              ref: project.ref,
              onOutput: progress.onOutput,
            });
            if (bundle) await projectGit.removeBundle(session);
            const commit = await projectGit.head(session);
            const config = await readProjectConfig(sandbox);
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

  /** Deletes the project, its workspace and its tickets' (refused while one of them runs). */
  delete(owner: string, name: string): Promise<void> {
    return this.#locks.run(owner, name, async () => {
      const project = await this.get(owner, name);
      const tickets = await this.#repository.listTickets({ owner, project: name });
      const running = tickets.filter((ticket) => ticket.status === 'running');
      if (running.length > 0) {
        throw new ConflictError(
          `Project ${name} has ${running.length} running ticket(s): ${running.map((ticket) => ticket.id).join(', ')}.`,
          {
            code: 'project_busy',
            hint: 'Stop those tickets first, then delete the project.',
          },
        );
      }
      // Tickets' workspaces are forks of the project's, which cannot go while they build on it.
      for (const ticket of tickets) {
        if (ticket.workspace) await this.#deleteWorkspace(owner, ticket.workspace);
      }
      await this.#deleteWorkspace(owner, project.workspace);
      await this.#repository.deleteProject(owner, name);
    });
  }

  /**
   * A ticket's own workspace: a fork of the project workspace (copy-on-write), taken while
   * nothing writes the project workspace; returns the commit it was forked at.
   */
  forkForTicket(
    owner: string,
    name: string,
    target: string,
  ): Promise<{ workspace: string; commit: string }> {
    return this.#locks.run(owner, name, async () => {
      const project = await this.get(owner, name);
      if (project.status !== 'ready' || project.commit === null) {
        throw new ConflictError(`Project ${name} is not ready (${project.status}).`, {
          code: 'project_not_ready',
          hint: project.reason
            ? `${project.reason}\nFix it and run mags project refresh ${name}.`
            : `Wait for its import to finish (mags project show ${name}).`,
        });
      }
      await this.#workspaces.fork(owner, project.workspace, target);
      return { workspace: target, commit: project.commit };
    });
  }

  /** Brings an approved ticket's git bundle into the project repository as `branch`. */
  importBranch(
    owner: string,
    name: string,
    options: { bundle: Buffer; branch: string },
  ): Promise<{ commit: string }> {
    return this.#locks.run(owner, name, async () => {
      const project = await this.get(owner, name);
      return withWorkspaceSession(
        this.#context,
        { workspace: ownerWorkspaceName(owner, project.workspace), labels: labels(owner, name) },
        async (_sandbox, session) => {
          await session.runtimeSandbox.writeFile(sandboxBundlePath, options.bundle);
          return { commit: await projectGit.importBranch(session, options.branch) };
        },
      );
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
    await this.#workspaces.delete(owner, workspace).catch((error: unknown) => {
      if (!(error instanceof NotFoundError)) throw error;
    });
  }
}

const labels = (owner: string, project: string) => ({ kind: 'project', owner, name: project });
