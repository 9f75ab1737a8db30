import { placeJob } from '../../cluster/host-placement.ts';
import type { HostRecord, StateRepository } from '../../state/state-repository.ts';
import { ownerWorkspaceName } from '../../workspaces/owner-workspace.ts';
import { ForwardLoopError, HostUnavailableError, NoHostAvailableError } from './forward-errors.ts';
import type { ForwardTiming } from './forward-http.ts';
import { hostUnavailableReason } from './host-liveness.ts';

/**
 * The header a forwarded request carries, naming the host that forwarded it: the server it
 * reaches answers it itself or refuses it (ForwardLoopError), never forwards it again.
 */
export const forwardedByHeader = 'x-mags-forwarded-by';

/** Where a request goes instead of here: a live host's id and its API's base URL. */
export interface HostTarget {
  host: string;
  address: string;
}

export interface HostForwarderOptions {
  repository: StateRepository;
  /** This server's host id (`ServerInstance.host`): what its sandboxes' records name. */
  host: string;
  /** Whether this server starts sandboxes itself; false (`--api-only`): creates are placed. */
  runsSandboxes: boolean;
  /** The runtime of a sandbox that names none (this server's default), for placement. */
  defaultRuntime: string;
  /** A host silent this long is unavailable: the cluster's host timeout (`--host-timeout`). */
  hostTimeoutMs: number;
  /** How long a connection to another host may take before it is unavailable (default 3 s). */
  connectTimeoutMs?: number;
  /**
   * How long a forwarded request waits for its answer's headers once sent (default 300 s: a
   * start that restores a large workspace answers only when it runs). A host that stops beating
   * meanwhile ends it sooner (`timing`).
   */
  responseTimeoutMs?: number;
  /**
   * The hosts as this server sees them (default: as recorded): the cluster's
   * `hostsForPlacement`, whose heartbeats are timed on this server's clock, as its sweep does.
   */
  hosts?: () => Promise<HostRecord[]>;
}

/** What a request asks of its sandbox, for where it goes. */
export type SandboxAction = 'use' | 'start';

/**
 * The one place that decides whether a request is answered here or by another host (GUIDE §6):
 * a request for a sandbox the caller owns, held by another live host, goes to that host; a new
 * sandbox asked of a server without a runtime (or of a full host) goes to a host placed for it.
 * Reads the shared state only; the transports (forward-http.ts, forward-upgrade.ts, the URL
 * proxy) carry the bytes. Ownership first: another owner's sandbox is not found here (a 404
 * from the route), so no request is ever forwarded as a probe.
 */
export class HostForwarder {
  readonly host: string;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly #repository: StateRepository;
  readonly #runsSandboxes: boolean;
  readonly #defaultRuntime: string;
  readonly #hostTimeoutMs: number;
  readonly #hosts: () => Promise<HostRecord[]>;

  constructor(options: HostForwarderOptions) {
    this.host = options.host;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3_000;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 300_000;
    this.#repository = options.repository;
    this.#runsSandboxes = options.runsSandboxes;
    this.#defaultRuntime = options.defaultRuntime;
    this.#hostTimeoutMs = options.hostTimeoutMs;
    this.#hosts = options.hosts ?? (() => options.repository.listHosts());
  }

  /**
   * The host for a request on `owner`'s sandbox `name`, or undefined to answer here: it does not
   * exist (404 here), it is this host's, or it is stopped (its record is shared state; only a
   * `start` goes to the host whose disk has its workspace, while that host is live).
   */
  async forSandbox(
    owner: string,
    name: string,
    forwardedBy: string | undefined,
    action: SandboxAction = 'use',
  ): Promise<HostTarget | undefined> {
    const record = await this.#repository.getSandbox(owner, name);
    if (!record?.host || record.host === this.host) return undefined;
    if (record.status === 'stopped') {
      if (action !== 'start') return undefined;
      if (forwardedBy === undefined) {
        const host = (await this.#hosts()).find(({ id }) => id === record.host);
        if (host && !this.#unavailable(host)) return this.#target(host);
      }
      // Its host is gone: started here, or (without a runtime here) on a host placed for it.
      return this.#placeUnlessHere(
        owner,
        {
          name: record.name,
          runtime: record.runtime,
          ...(record.workspace === null ? { ephemeral: true } : { workspace: record.workspace }),
        },
        forwardedBy,
      );
    }
    return this.#toHost(record.host, forwardedBy);
  }

  /**
   * The host for a copy into or out of `owner`'s workspace `name` (`mags cp`): the host of a
   * running or sleeping sandbox on it (the copy goes through that sandbox there), else here, or
   * (this server running none) a host placed for it as for a new sandbox: its warm one first.
   */
  async forWorkspace(
    owner: string,
    name: string,
    forwardedBy: string | undefined,
  ): Promise<HostTarget | undefined> {
    const holder = (await this.#repository.listSandboxes(owner)).find(
      (record) => record.workspace === name && record.status !== 'stopped',
    );
    if (holder?.host && holder.host !== this.host) return this.#toHost(holder.host, forwardedBy);
    if (holder) return undefined;
    return this.#placeUnlessHere(owner, { name, workspace: name }, forwardedBy);
  }

  /**
   * The host for a new long-lived sandbox: undefined (here) when this server runs sandboxes;
   * otherwise a live host, the one with the workspace warm first.
   */
  forNewSandbox(
    owner: string,
    body: Record<string, unknown>,
    forwardedBy: string | undefined,
  ): Promise<HostTarget | undefined> {
    return this.#placeUnlessHere(owner, body, forwardedBy);
  }

  /** Whether this server starts sandboxes itself (false: `--api-only`, they are placed). */
  get runsSandboxes(): boolean {
    return this.#runsSandboxes;
  }

  /**
   * Undefined (here) when this server runs sandboxes; a placed host otherwise. A server that runs
   * none never starts one, even when a request forwarded to it (or forged to look so) asks.
   */
  async #placeUnlessHere(
    owner: string,
    request: Record<string, unknown>,
    forwardedBy: string | undefined,
  ): Promise<HostTarget | undefined> {
    if (this.#runsSandboxes) return this.#elsewhereWhenFull(owner, request, forwardedBy);
    if (forwardedBy !== undefined) throw new ForwardLoopError(forwardedBy, this.host, undefined);
    return this.#place(owner, request);
  }

  /**
   * A host with room when this one is full (its jobs at their most) and another is not; here
   * otherwise (every host full: here, as on one host; a forwarded request: here, never again).
   */
  async #elsewhereWhenFull(
    owner: string,
    request: Record<string, unknown>,
    forwardedBy: string | undefined,
  ): Promise<HostTarget | undefined> {
    if (forwardedBy !== undefined) return undefined;
    const hosts = await this.#hosts();
    const own = hosts.find(({ id }) => id === this.host);
    if (!own || own.runningJobs < own.maxJobs) return undefined;
    const placed = placeJob(
      hosts.filter((host) => host.id === this.host || host.address !== null),
      this.#placement(owner, request, this.host),
    );
    if (!placed || placed.reason === 'all-full' || placed.host.id === this.host) return undefined;
    return this.#target(placed.host);
  }

  /** A live host for the sandbox by the cluster's placement (`placeJob`: warm first, then room). */
  async #place(owner: string, request: Record<string, unknown>): Promise<HostTarget> {
    const runtime = this.#runtimeOf(request);
    // Only hosts other servers can reach: a host without an address takes no forwarded request.
    const hosts = (await this.#hosts()).filter(
      (host) => host.id !== this.host && host.address !== null,
    );
    const placed = placeJob(hosts, this.#placement(owner, request, undefined));
    if (!placed) {
      throw new NoHostAvailableError(
        `no live host that runs ${runtime} sandboxes has sent a heartbeat in the last ${this.#hostTimeoutMs / 1000} s`,
      );
    }
    return this.#target(placed.host);
  }

  #placement(owner: string, request: Record<string, unknown>, self: string | undefined) {
    return {
      runtime: this.#runtimeOf(request),
      workspace: warmWorkspaceOf(owner, request),
      self,
      now: Date.now(),
      hostTimeoutMs: this.#hostTimeoutMs,
    };
  }

  #runtimeOf(request: Record<string, unknown>): string {
    return typeof request.runtime === 'string' ? request.runtime : this.#defaultRuntime;
  }

  async #toHost(id: string, forwardedBy: string | undefined): Promise<HostTarget> {
    if (forwardedBy !== undefined) throw new ForwardLoopError(forwardedBy, this.host, id);
    const host = (await this.#hosts()).find((one) => one.id === id);
    if (!host) {
      throw new HostUnavailableError(id, 'it is not registered (it left, or never registered)');
    }
    const reason = this.#unavailable(host);
    if (reason) throw new HostUnavailableError(id, reason);
    return this.#target(host);
  }

  /**
   * The limits of one forwarded exchange with `target` (forward-http.ts): its connect and
   * response timeouts, and its host's liveness read again from the state every third of the
   * host timeout (at least every 5 s), so a request to a host that froze ends once the cluster
   * would find it silent rather than waiting on its kernel's open connection.
   */
  timing(target: HostTarget, signal?: AbortSignal): ForwardTiming {
    return {
      connectTimeoutMs: this.connectTimeoutMs,
      responseTimeoutMs: this.responseTimeoutMs,
      checkMs: Math.max(250, Math.min(this.#hostTimeoutMs / 3, 5_000)),
      unavailable: async () => {
        const host = (await this.#hosts()).find(({ id }) => id === target.host);
        return host ? this.#unavailable(host) : 'it is no longer registered (it left)';
      },
      ...(signal ? { signal } : {}),
    };
  }

  #unavailable(host: HostRecord): string | undefined {
    return hostUnavailableReason(host, Date.now(), this.#hostTimeoutMs);
  }

  #target(host: HostRecord): HostTarget {
    return { host: host.id, address: host.address as string };
  }
}

/** The storage name of the workspace a create (or a start) asks for, for warm placement. */
function warmWorkspaceOf(owner: string, request: Record<string, unknown>): string | undefined {
  if (request.ephemeral === true) return undefined;
  const name = typeof request.workspace === 'string' ? request.workspace : request.name;
  if (typeof name !== 'string') return undefined;
  try {
    return ownerWorkspaceName(owner, name);
  } catch {
    return undefined; // a bad name: the host it goes to refuses it with the reason
  }
}
