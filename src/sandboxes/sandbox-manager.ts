import { ConflictError, InvalidInputError, NotFoundError } from '../errors/mags-error.ts';
import type { MagsContext } from '../jobs/mags-context.ts';
import { ownerWorkspaceName } from '../jobs/owner-workspace.ts';
import { resolveSpec, startOrExplain } from '../jobs/run-command.ts';
import type { ResourceLimits, Sandbox } from '../runtimes/runtime.ts';
import type { SandboxRecord, StateRepository } from '../state/state-repository.ts';
import { workspaceBusyError } from '../workspaces/workspace-store.ts';

export interface CreateSandboxRequest {
  name: string;
  /** The workspace it writes to; defaults to one named like the sandbox. */
  workspace?: string;
  /** Nothing it writes is kept (no workspace). */
  ephemeral?: boolean;
  image?: string;
  limits?: Partial<ResourceLimits>;
  network?: boolean;
}

const sandboxNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function validateSandboxName(name: string): string {
  if (!sandboxNamePattern.test(name)) {
    throw new InvalidInputError(`Invalid sandbox name ${JSON.stringify(name)}.`, {
      hint: 'Use 1-63 letters, digits, ".", "_" and "-", starting with a letter or digit.',
    });
  }
  return name;
}

interface LiveSandbox {
  record: SandboxRecord;
  sandbox: Sandbox;
}

/**
 * Long-lived sandboxes (`mags new`): started once, then used by many `exec`s, file transfers
 * and shells until stopped. A stopped sandbox keeps its workspace and starts again on request.
 */
export class SandboxManager {
  readonly #context: MagsContext;
  readonly #repository: StateRepository;
  readonly #live = new Map<string, LiveSandbox>();

  constructor(options: { context: MagsContext; repository: StateRepository }) {
    this.#context = options.context;
    this.#repository = options.repository;
  }

  get runningCount(): number {
    return this.#live.size;
  }

  async create(owner: string, request: CreateSandboxRequest): Promise<SandboxRecord> {
    validateSandboxName(request.name);
    const workspace = request.ephemeral ? null : (request.workspace ?? request.name);
    if (workspace !== null) ownerWorkspaceName(owner, workspace); // a bad name fails first
    if (await this.#repository.getSandbox(owner, request.name)) {
      throw new ConflictError(`Sandbox ${JSON.stringify(request.name)} already exists.`, {
        code: 'sandbox_exists',
        hint: `Use it (mags exec ${request.name} ...), or delete it first (mags delete ${request.name}).`,
      });
    }
    const at = new Date().toISOString();
    const record: SandboxRecord = {
      owner,
      name: request.name,
      runtimeId: null,
      workspace,
      status: 'stopped',
      options: {
        image: request.image,
        limits: request.limits ?? {},
        network: request.network ?? false,
      },
      reason: null,
      createdAt: at,
      lastActiveAt: at,
    };
    return this.#launch(record);
  }

  /** Starts a stopped sandbox again, on the same workspace and options. */
  async start(owner: string, name: string): Promise<SandboxRecord> {
    const live = this.#live.get(key(owner, name));
    if (live) return live.record;
    return this.#launch(await this.get(owner, name));
  }

  async get(owner: string, name: string): Promise<SandboxRecord> {
    const live = this.#live.get(key(owner, name));
    if (live) return live.record;
    const record = await this.#repository.getSandbox(owner, name);
    if (!record) throw sandboxNotFound(name);
    return record;
  }

  list(owner: string): Promise<SandboxRecord[]> {
    return this.#repository.listSandboxes(owner);
  }

  /** The running sandbox, for exec, files and shells; marks it active. */
  async require(owner: string, name: string): Promise<Sandbox> {
    const live = this.#live.get(key(owner, name));
    if (!live) {
      await this.get(owner, name); // 404 when it does not exist at all
      throw new ConflictError(`Sandbox ${JSON.stringify(name)} is stopped.`, {
        code: 'sandbox_stopped',
        hint: `Start it again: mags start ${name}`,
      });
    }
    live.record.lastActiveAt = new Date().toISOString();
    return live.sandbox;
  }

  async stop(owner: string, name: string, reason = 'stopped on request'): Promise<SandboxRecord> {
    const live = this.#live.get(key(owner, name));
    if (!live) return this.get(owner, name);
    this.#live.delete(key(owner, name));
    await live.sandbox.stop();
    const record = { ...live.record, status: 'stopped' as const, runtimeId: null, reason };
    await this.#repository.upsertSandbox(record);
    return record;
  }

  /** Stops and forgets the sandbox; its workspace stays (mags workspace delete removes it). */
  async delete(owner: string, name: string): Promise<void> {
    await this.stop(owner, name);
    await this.#repository.deleteSandbox(owner, name);
  }

  async shutdown(): Promise<void> {
    await Promise.allSettled(
      [...this.#live.values()].map(({ record }) =>
        this.stop(record.owner, record.name, 'the server shut down'),
      ),
    );
  }

  async #launch(record: SandboxRecord): Promise<SandboxRecord> {
    const options = record.options as {
      image?: string;
      limits: Partial<ResourceLimits>;
      network: boolean;
    };
    const defaults = this.#context.defaults;
    const workspace = record.workspace && ownerWorkspaceName(record.owner, record.workspace);
    const spec = await resolveSpec(
      this.#context,
      {
        workspace: workspace ?? undefined,
        image: options.image ?? defaults.image,
        limits: { ...defaults.limits, ...options.limits },
        network: options.network,
      },
      'sb',
    );
    spec.hostname = record.name;
    const sandbox = await startOrExplain(this.#context, spec).catch((error: unknown) => {
      if (error instanceof ConflictError && record.workspace) {
        throw workspaceBusyError(record.workspace);
      }
      throw error;
    });
    const at = new Date().toISOString();
    const running: SandboxRecord = {
      ...record,
      status: 'running',
      runtimeId: sandbox.id,
      reason: null,
      lastActiveAt: at,
    };
    this.#live.set(key(record.owner, record.name), { record: running, sandbox });
    await this.#repository.upsertSandbox(running);
    if (record.workspace) await this.#repository.touchWorkspace(record.owner, record.workspace, at);
    return running;
  }
}

const key = (owner: string, name: string) => `${owner}/${name}`;

export function sandboxNotFound(name: string): NotFoundError {
  return new NotFoundError(`No sandbox ${JSON.stringify(name)}.`, {
    code: 'sandbox_not_found',
    hint: 'mags list --sandboxes shows yours; mags new NAME creates one.',
  });
}
