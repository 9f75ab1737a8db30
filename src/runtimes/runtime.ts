/**
 * The runtime contract (`runtime-v2`): every isolation driver (namespaces, microVMs, Kubernetes)
 * implements it and passes the shared contract suite in `runtime-contract.ts`.
 * A spec speaks of references (an image, a workspace), never of host paths: each runtime's own
 * layer provider materialises them (overlay directories and locks for `namespace`).
 * Optional features are optional members, each behind a capability flag; callers check
 * `capabilities` first, or use `requireCapability` (require-capability.ts), which throws
 * `CapabilityUnsupportedError`: never a silent `?.()` no-op.
 */
import type { Duplex, Readable } from 'node:stream';
import type { EgressRule } from '../api/egress-rules.ts';
import type { RuntimeCapabilityName } from '../errors/mags-error.ts';
import type { GuestExecInfo } from '../guest/guest-process.ts';

/**
 * Every name of `RuntimeCapabilityName` is a flag here (the `Record`), and no flag is missing
 * from it (`requireCapability` hands `keyof RuntimeCapabilities` to the error, which takes only
 * those names).
 */
export interface RuntimeCapabilities extends Record<RuntimeCapabilityName, boolean> {
  /** Egress networking on request (`network.egress: 'all'`). */
  network: boolean;
  /** Interactive terminals (`tty` on exec). */
  tty: boolean;
  /**
   * Memory, CPU and process-count limits are enforced from the start. Kubernetes: memory and CPU
   * per pod, the process count only by the node's kubelet podPidsLimit (its check() warns).
   */
  resourceLimits: boolean;
  /** `Sandbox.setLimits`: limits of a running sandbox can change. */
  setLimits: boolean;
  /** `Sandbox.pause`/`resume`: the sandbox can be frozen and thawed. */
  pause: boolean;
  /** `Runtime.prepare`: sandboxes can be started ahead of time and given their layers later. */
  prepare: boolean;
  /**
   * `Runtime.list`/`attach` and `Sandbox.detach`: sandboxes outlive the process that started
   * them, and another process connects to them again by id.
   */
  reattach: boolean;
  /** `Runtime.sweep`: what sandboxes of dead processes left on the host can be removed. */
  sweep: boolean;
  /**
   * `network.egress: { allow }`: egress limited to an allow-list (names through a DNS filter,
   * CIDRs), and `Sandbox.egressBlocked` reports what it refused.
   */
  egressAllowList: boolean;
  /** `Sandbox.openPort`: a TCP port inside the sandbox is reachable through its agent. */
  ports: boolean;
  /**
   * A writable workspace keeps everything the sandbox writes anywhere (an overlay over the whole
   * root filesystem). False: only `/workspace` persists (the kubernetes runtime's pods).
   */
  wholeFilesystemPersists: boolean;
}

/** A base image, by name (e.g. `{ name: 'default' }`); only the runtime knows where it is. */
export interface ImageReference {
  name: string;
}

/**
 * A workspace, by name; only the runtime's layer provider knows its disk, layers and locks. A
 * fork is named like any workspace: its chain of source layers is the store's record, not the
 * reference's (docs/design.md, "The runtime interface").
 */
export interface WorkspaceReference {
  /** Storage name (owner-prefixed, as the WorkspaceStore knows it). */
  name: string;
  /**
   * `writable`: the sandbox's writes land in the workspace (one writer at a time);
   * `read-only`: it sees the workspace below a throw-away layer (readers shared).
   */
  access: 'writable' | 'read-only';
  /** A stored version (object storage), always read-only. */
  version?: number;
}

// One entry of an egress allow-list: the API's wire type, which the runtime enforces as it is.
export type { EgressRule };

/**
 * Network access. `all`: the internet, never the host's loopback or the link-local (cloud
 * metadata) range; `{ allow }`: only what the rules name (capability `egressAllowList`).
 */
export interface NetworkPolicy {
  egress: 'none' | 'all' | { allow: EgressRule[] };
}

export interface ResourceLimits {
  memoryMiB: number;
  cpus: number;
  pidsMax: number;
  /**
   * The size of the writable layer. For a throw-away layer (no workspace, or a read-only one) the
   * runtime enforces it on the scratch layer it makes (a writer past it gets ENOSPC); for a
   * writable workspace it is the size its disk grows to (undefined: the disk as it is).
   */
  diskMiB?: number;
}

export interface SandboxSpec {
  /** Unique, `[a-z0-9-]`; the runtime names its resources after it. */
  id: string;
  image: ImageReference;
  /** None: a throw-away sandbox on a scratch layer, deleted when it stops. */
  workspace?: WorkspaceReference;
  limits: ResourceLimits;
  network: NetworkPolicy;
  hostname?: string;
  /**
   * Free-form labels the runtime keeps with the sandbox and returns from `list()`/`attach()`
   * (owner, sandbox name, kind), so a new server process can tell what a sandbox is.
   */
  labels?: Record<string, string>;
}

export interface ExecRequest {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /**
   * Makes the exec durable (capability `reattach`): it survives a detach or a crash of this
   * process, and `Sandbox.resumeExec(key, offsets)` picks it up again. Unique within the sandbox.
   */
  key?: string;
  /** Open stdin for `writeStdin`; otherwise the command reads an empty stdin. */
  stdin?: boolean;
  tty?: { rows: number; cols: number };
}

export interface ExecResult {
  /** The exit code, or null when a signal ended the command. */
  exitCode: number | null;
  signal: string | null;
}

export interface SandboxProcess {
  readonly stdout: Readable;
  readonly stderr: Readable;
  writeStdin(data: Buffer | string): void;
  closeStdin(): void;
  signal(signal: NodeJS.Signals): void;
  resize(rows: number, cols: number): void;
  /**
   * Settles once the stdin queued so far is sent (about one flow window in flight), or the
   * command ended: awaited between chunks, stdin of any size streams in bounded memory (a tar
   * stream into the sandbox). Without it, stdin queues in memory as fast as it is written.
   */
  stdinDrained?(): Promise<void>;
  /**
   * Settles when the command's main process exits. Rejects with a MagsError whose code is
   * `guest_exec_failed` when the command could not start (missing program, bad cwd).
   */
  readonly exited: Promise<ExecResult>;
}

/** A durable exec picked up again: `resumed` says where its replay starts. */
export interface ResumedProcess extends SandboxProcess {
  /**
   * Offsets the replay starts at: those asked for, or higher when bytes were lost (acknowledged
   * to the process that went away but not kept by it).
   */
  readonly resumed: Promise<{ pid: number; stdoutOffset: number; stderrOffset: number }>;
}

/** A durable exec as the sandbox's agent reports it (the guest protocol's LIST_EXECS). */
export type DurableExecInfo = GuestExecInfo;

/** A file being read out of a sandbox (`Sandbox.readFileStream`). */
export interface FileRead {
  sizeBytes: number;
  /** `st_mode`: type and permission bits. */
  mode: number;
  stream: Readable;
}

export interface SandboxExit {
  /** Processes the kernel's OOM killer killed inside the sandbox. */
  oomKills: number;
  peakMemoryBytes: number | undefined;
}

export interface SandboxUsage extends SandboxExit {
  /** Memory the sandbox holds now, when the runtime can tell. */
  memoryBytes: number | undefined;
  /** Processes running besides the guest agent, when the runtime can tell (0 when idle). */
  processes: number | undefined;
}

export interface Sandbox {
  readonly id: string;
  /** The workspace it runs on, as its spec named it. */
  readonly workspace?: WorkspaceReference;
  readonly labels: Record<string, string>;
  /** Limits that could not be applied on this host, already in words for the user. */
  readonly warnings: string[];
  exec(request: ExecRequest): SandboxProcess;
  writeFile(
    path: string,
    data: Buffer | AsyncIterable<Buffer>,
    options?: { mode?: number },
  ): Promise<void>;
  /**
   * Streams a regular file out of the sandbox: `sizeBytes` is its size when opened, and the
   * stream delivers exactly that many bytes (a file that grows meanwhile is cut there). Rejects
   * before any byte is read when the file is over `maxBytes` (413 `file_too_large`), missing
   * (404 `file_not_found`) or not a regular file (400: a directory, `/dev/zero`, a FIFO, a
   * socket). Destroying the stream early cancels the read inside the sandbox.
   */
  readFileStream(path: string, options?: { maxBytes?: number }): Promise<FileRead>;
  /** Reads a small file whole (built on `readFileStream`; `maxBytes` defaults to 64 MiB). */
  readFile(path: string, options?: { maxBytes?: number }): Promise<Buffer>;
  /**
   * What the egress allow-list refused since the last call, one line each
   * (`mags: egress blocked: connection to 203.0.113.7:443`; capability `egressAllowList`).
   * Present only on a sandbox started with an allow-list.
   */
  egressBlocked?(): Promise<string[]>;
  /** Counters a caller reads after a command to explain how it ended (e.g. OOM kills). */
  usage(): Promise<SandboxUsage>;
  /** False once the sandbox has ended, whether stopped or died (its agent killed, say). */
  isRunning(): boolean;
  /**
   * Changes the resource limits of a running sandbox; returns limits it could not apply
   * (capability `setLimits`).
   */
  setLimits?(limits: ResourceLimits): Promise<string[]>;
  /** Ends every process and releases every resource; safe to call twice. */
  stop(): Promise<SandboxExit>;
  /**
   * Freezes every process; memory may be reclaimed. Calls on a paused sandbox resume it first
   * (capability `pause`, as `resume`).
   */
  pause?(): Promise<void>;
  resume?(): Promise<void>;
  /**
   * Drops this process's hold on the sandbox and leaves it running, for `Runtime.attach` from
   * another process (capability `reattach`). Execs started without a `key` end; durable ones run
   * on. The object is of no use afterwards.
   */
  detach?(): Promise<void>;
  /**
   * Picks a durable exec (started with `key`) up again after a detach or a crash (capability
   * `reattach`): its output is replayed from the given offsets (the bytes of each stream the
   * caller already has). `exited` rejects with errno 2 when the sandbox no longer knows the key
   * (its end was delivered to the process that went away).
   */
  resumeExec?(
    key: string,
    offsets?: { stdoutOffset?: number; stderrOffset?: number },
  ): ResumedProcess;
  /**
   * A byte stream to a TCP port on the sandbox's loopback, through its agent, so it works without
   * any network into (or out of) the sandbox (capability `ports`). Rejects with a 502
   * `port_not_listening` when nothing listens there.
   */
  openPort?(port: number): Promise<Duplex>;
  /** The durable execs the sandbox holds, running or ended (capability `reattach`). */
  listExecs?(): Promise<DurableExecInfo[]>;
  /**
   * Releases a durable exec nobody will resume (its job was failed or deleted; capability
   * `reattach`): a running one is killed, an ended one's kept output and status are dropped.
   * Resolves false when the sandbox does not know the key (never ran, already delivered or
   * released); rejects when another process is following it.
   */
  forgetExec?(key: string): Promise<boolean>;
}

/** A running sandbox as `Runtime.list` reports it. */
export interface SandboxInfo {
  id: string;
  labels: Record<string, string>;
  workspace?: WorkspaceReference;
  /** ISO 8601. */
  startedAt: string;
}

/** What a prepared sandbox is given when it is claimed: everything of a spec but its identity. */
export type AttachSpec = Omit<SandboxSpec, 'id'>;

/**
 * A sandbox started ahead of time (for a pool) that has no root filesystem yet. It becomes a
 * `Sandbox` once attached; a prepared sandbox is attached at most once.
 */
export interface PreparedSandbox {
  readonly id: string;
  /** False once it died or was discarded (it is then of no use). */
  isAlive(): boolean;
  attach(spec: AttachSpec): Promise<Sandbox>;
  discard(): Promise<void>;
}

export interface RuntimeCheck {
  ok: boolean;
  /** One entry per missing dependency, each saying what to install or run. */
  problems: string[];
  warnings: string[];
}

export interface Runtime {
  readonly specificationVersion: 'runtime-v2';
  readonly name: string;
  readonly capabilities: RuntimeCapabilities;
  /** Checks the host (kernel features, binaries) without starting anything. */
  check(): Promise<RuntimeCheck>;
  start(spec: SandboxSpec): Promise<Sandbox>;
  /**
   * Removes what sandboxes of processes that died (a killed server) left on the host, checking
   * each for liveness; returns how many it removed (capability `sweep`).
   */
  sweep?(): Promise<number>;
  /** Starts a sandbox up to the point where it needs its layers (capability `prepare`). */
  prepare?(options: { id: string; limits: ResourceLimits }): Promise<PreparedSandbox>;
  /** The sandboxes of this runtime running on this host (capability `reattach`). */
  list?(): Promise<SandboxInfo[]>;
  /**
   * Connects to a running sandbox again, e.g. after a server restart (capability `reattach`).
   * Rejects with a 404 `sandbox_not_found` MagsError when no such sandbox is running.
   */
  attach?(id: string): Promise<Sandbox>;
}
