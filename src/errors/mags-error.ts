/**
 * The one error base class of mags. Every error a user can see is a MagsError (or a subclass)
 * with a stable `code`, an optional `hint` that says what to do next, and structured fields
 * (sandbox, workspace, HTTP status) so callers never have to parse messages.
 */
export interface MagsErrorOptions {
  code: string;
  hint?: string;
  retryable?: boolean;
  statusCode?: number;
  sandboxId?: string;
  workspace?: string;
  cause?: unknown;
}

export class MagsError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly statusCode: number | undefined;
  readonly sandboxId: string | undefined;
  readonly workspace: string | undefined;

  constructor(message: string, options: MagsErrorOptions) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
    this.statusCode = options.statusCode;
    this.sandboxId = options.sandboxId;
    this.workspace = options.workspace;
  }

  /** The message plus the hint, as the CLI prints it. */
  toDisplayString(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/** Input from a user or a client failed validation (bad name, bad option, path traversal). */
export class InvalidInputError extends MagsError {
  constructor(message: string, options: Omit<MagsErrorOptions, 'code'> & { code?: string } = {}) {
    super(message, { statusCode: 400, ...options, code: options.code ?? 'invalid_input' });
  }
}

/** Something the host needs is missing (overlayfs, user namespaces, the base image, a binary). */
export class DependencyMissingError extends MagsError {
  constructor(message: string, options: Omit<MagsErrorOptions, 'code'> & { code?: string } = {}) {
    super(message, { statusCode: 503, ...options, code: options.code ?? 'dependency_missing' });
  }
}

/** A resource is busy (e.g. a workspace already in use by another run). */
export class ConflictError extends MagsError {
  constructor(message: string, options: Omit<MagsErrorOptions, 'code'> & { code?: string } = {}) {
    super(message, { statusCode: 409, ...options, code: options.code ?? 'conflict' });
  }
}

/**
 * Over a quota that only frees up when the owner removes something (the disks of their
 * workspaces): a 409 that retrying does not help, unlike a 429.
 */
export class QuotaExceededError extends ConflictError {
  constructor(message: string, options: Omit<MagsErrorOptions, 'code'> & { code?: string } = {}) {
    super(message, { ...options, code: options.code ?? 'quota_exceeded' });
  }
}

/** A missing, wrong or revoked API token. */
export class AuthenticationError extends MagsError {
  constructor(message: string, options: Omit<MagsErrorOptions, 'code'> & { code?: string } = {}) {
    super(message, {
      statusCode: 401,
      hint: 'Send Authorization: Bearer <token> (mags login --url URL, or MAGS_API_TOKEN); mags token create --owner NAME makes one.',
      ...options,
      code: options.code ?? 'unauthorized',
    });
  }
}

/**
 * The token is fine but the action is not allowed: a file the sandbox may not read or write
 * (`permission_denied`), a read-only filesystem (`read_only`). Asking again will not help.
 */
export class PermissionDeniedError extends MagsError {
  constructor(message: string, options: Omit<MagsErrorOptions, 'code'> & { code?: string } = {}) {
    super(message, { statusCode: 403, ...options, code: options.code ?? 'permission_denied' });
  }
}

export class NotFoundError extends MagsError {
  constructor(message: string, options: Omit<MagsErrorOptions, 'code'> & { code?: string } = {}) {
    super(message, { statusCode: 404, ...options, code: options.code ?? 'not_found' });
  }
}

/**
 * Over a limit that frees up with time (an owner's running or queued jobs, its sandboxes): HTTP
 * 429 with `Retry-After`. Retryable: the same request may succeed `retryAfterSeconds` later.
 */
export class RateLimitError extends MagsError {
  readonly retryAfterSeconds: number;
  /** Which limit (`running_jobs`, `queued_jobs`, `sandboxes`) and its value, when known. */
  readonly limit: string | undefined;
  readonly limitValue: number | undefined;

  constructor(
    message: string,
    options: Omit<MagsErrorOptions, 'code'> & {
      code?: string;
      retryAfterSeconds: number;
      limit?: string;
      limitValue?: number;
    },
  ) {
    super(message, {
      statusCode: 429,
      retryable: true,
      ...options,
      code: options.code ?? 'rate_limited',
    });
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.limit = options.limit;
    this.limitValue = options.limitValue;
  }
}

/**
 * The capabilities a runtime declares: the keys of `RuntimeCapabilities` (runtimes/runtime.ts,
 * which is checked against this list), named here because errors sit below the runtimes.
 */
export type RuntimeCapabilityName =
  | 'network'
  | 'tty'
  | 'resourceLimits'
  | 'setLimits'
  | 'pause'
  | 'prepare'
  | 'reattach'
  | 'sweep'
  | 'egressAllowList'
  | 'ports'
  | 'wholeFilesystemPersists';

/** A runtime was asked for an optional feature it does not have. */
export class CapabilityUnsupportedError extends MagsError {
  /** The runtime asked (`namespace`, `qemu`, ...). */
  readonly runtime: string;
  /** The capability it lacks (`pause`, `reattach`, ...). */
  readonly capability: RuntimeCapabilityName;

  /** `reason` says why, when the runtime has the capability but this host cannot provide it. */
  constructor(
    runtime: string,
    capability: RuntimeCapabilityName,
    options: { reason?: string } = {},
  ) {
    super(
      `The ${runtime} runtime does not support ${capability}${options.reason ? ` (${options.reason})` : ''}.`,
      {
        code: 'capability_unsupported',
        statusCode: 501,
        hint: 'Use a runtime that has it (mags doctor shows the runtime and what this host lacks).',
      },
    );
    this.runtime = runtime;
    this.capability = capability;
  }
}
