import { normaliseEgressRules } from '../api/egress-rules.ts';
import { InvalidInputError, NotFoundError } from '../errors/mags-error.ts';
import type { EgressRule, ResourceLimits } from '../runtimes/runtime.ts';
import type { SandboxRecord } from '../state/state-repository.ts';
import { ownerWorkspaceName } from '../workspaces/owner-workspace.ts';

export interface CreateSandboxRequest {
  name: string;
  /** The workspace it writes to; defaults to one named like the sandbox. */
  workspace?: string;
  /** Nothing it writes is kept (no workspace). */
  ephemeral?: boolean;
  image?: string;
  limits?: Partial<ResourceLimits>;
  network?: boolean;
  /** An egress allow-list (implies network). */
  allow?: EgressRule[];
  /** Freeze it when idle (default true). */
  sleep?: boolean;
  /** The runtime it runs on, by name (default: the server's default). */
  runtime?: string;
}

/** What a long-lived sandbox was created with (`SandboxRecord.options`), replayed at each start. */
export interface SandboxOptions {
  image?: string;
  limits: Partial<ResourceLimits>;
  network: boolean;
  /**
   * Its egress allow-list as settled at creation (the server's default included; `[]`: all of
   * the network). Absent in records from before that: `network` gets the server's default list.
   */
  allow?: EgressRule[];
  /** Absent in records from before sleep existed: they sleep like new ones. */
  sleep?: boolean;
}

export function sandboxOptions(record: SandboxRecord): SandboxOptions {
  return record.options as unknown as SandboxOptions;
}

/** Whether the sandbox is frozen when idle: the default, also for records from before sleep. */
export function sleepsWhenIdle(record: SandboxRecord): boolean {
  return sandboxOptions(record).sleep !== false;
}

const sandboxNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function validateSandboxName(name: string): string {
  if (!sandboxNamePattern.test(name)) {
    throw new InvalidInputError(`Invalid sandbox name ${JSON.stringify(name)}.`, {
      hint: 'Use 1-63 letters, digits, ".", "_" and "-", starting with a letter or digit.',
    });
  }
  return name;
}

export function sandboxNotFound(name: string): NotFoundError {
  return new NotFoundError(`No sandbox ${JSON.stringify(name)}.`, {
    code: 'sandbox_not_found',
    hint: 'mags list --sandboxes shows yours; mags new NAME creates one.',
  });
}

/**
 * The record of a sandbox to create, stopped until its first start: its workspace defaults to
 * one named like it (none when ephemeral). Throws a 400 for a bad sandbox or workspace name.
 */
export function newSandboxRecord(owner: string, request: CreateSandboxRequest): SandboxRecord {
  validateSandboxName(request.name);
  const workspace = request.ephemeral ? null : (request.workspace ?? request.name);
  if (workspace !== null) ownerWorkspaceName(owner, workspace);
  const at = new Date().toISOString();
  return {
    owner,
    name: request.name,
    runtimeId: null,
    workspace,
    status: 'stopped',
    options: {
      image: request.image,
      limits: request.limits ?? {},
      network: request.network ?? false,
      ...(request.allow ? { allow: normaliseEgressRules(request.allow) } : {}),
      sleep: request.sleep ?? true,
    } satisfies SandboxOptions,
    reason: null,
    createdAt: at,
    lastActiveAt: at,
  };
}
