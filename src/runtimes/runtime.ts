/**
 * The runtime contract (`runtime-v1`): every isolation driver (namespaces, microVMs, Kubernetes)
 * implements it and passes the shared contract suite in `runtime-contract.ts`.
 * Optional features are optional members; callers check `capabilities` first and a missing one
 * throws `CapabilityUnsupportedError`.
 */
import type { Readable } from 'node:stream';

export interface RuntimeCapabilities {
  /** Egress networking on request (`network: true`). */
  network: boolean;
  /** Interactive terminals (`tty` on exec). */
  tty: boolean;
  /** Memory, CPU and process-count limits are enforced. */
  resourceLimits: boolean;
  /** The sandbox can be frozen and thawed. */
  pause: boolean;
  /** Sandboxes can be started ahead of time and attached to their layers later (`prepare`). */
  prepare: boolean;
  /** Sandboxes outlive the process that started them: `list`, `attach`, `Sandbox.detach`. */
  reattach: boolean;
}

/** What a sandbox works on, by name (runtime-v2's reference; here only recorded and listed). */
export interface WorkspaceReference {
  name: string;
  access: 'writable' | 'read-only';
  version?: number;
}

/** A running sandbox as `Runtime.list` finds it. */
export interface SandboxInfo {
  id: string;
  labels: Record<string, string>;
  workspace?: WorkspaceReference;
  /** ISO time it came up. */
  startedAt: string;
}

/** The sandbox's root filesystem: read-only layers below one writable layer. */
export interface RootFilesystem {
  /** Read-only layers, the top-most first (a base workspace's layer above the image). */
  lowerDirs: string[];
  /**
   * The writable layer. Omitted for a throw-away sandbox: the runtime then creates a scratch layer
   * and deletes it when the sandbox stops.
   */
  writable?: { upperDir: string; workDir: string };
}

export interface ResourceLimits {
  memoryMiB: number;
  cpus: number;
  pidsMax: number;
  /**
   * The size of the writable layer. The runtime enforces it on the scratch layer it makes for a
   * throw-away sandbox (a writer past it gets ENOSPC); a `writable` layer given in the spec is
   * the caller's, limited by the filesystem it lives on (a workspace's disk).
   */
  diskMiB?: number;
}

export interface SandboxSpec {
  /** Unique, `[a-z0-9-]`; the runtime names its resources after it. */
  id: string;
  rootfs: RootFilesystem;
  limits: ResourceLimits;
  network: boolean;
  hostname?: string;
  /** Lock files held for the sandbox's whole life: one writer per workspace, readers shared. */
  locks?: { exclusive?: string[]; shared?: string[] };
  /**
   * Free-form labels the runtime keeps with the sandbox and returns from `list`/`attach` (owner,
   * sandbox name, kind), so a new server process can tell what a sandbox is.
   */
  labels?: Record<string, string>;
  workspace?: WorkspaceReference;
}

export interface ExecRequest {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /**
   * Makes the exec durable (capability `reattach`): it survives a detach or a crash of this
   * process, and `Sandbox.resume(key, offsets)` picks it up again. Unique within the sandbox.
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

export interface DurableExecInfo {
  key: string;
  pid: number;
  exited: boolean;
  /** Another connection holds it (another live server process). */
  attached: boolean;
  exitCode: number | null;
  signal: string | null;
  stdoutBytes: number;
  stderrBytes: number;
}

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
  readonly labels: Record<string, string>;
  readonly workspace?: WorkspaceReference;
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
  /** Counters a caller reads after a command to explain how it ended (e.g. OOM kills). */
  usage(): Promise<SandboxUsage>;
  /** False once the sandbox has ended, whether stopped or died (its agent killed, say). */
  isRunning(): boolean;
  /** Changes the resource limits of a running sandbox; returns limits it could not apply. */
  setLimits?(limits: ResourceLimits): Promise<string[]>;
  /** Ends every process and releases every resource; safe to call twice. */
  stop(): Promise<SandboxExit>;
  /**
   * Drops this process's hold on the sandbox and leaves it running, for another process to
   * `attach` (capability `reattach`). Execs started without a `key` end; durable ones run on.
   * The object is of no use afterwards.
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
  /** The durable execs the sandbox holds, running or ended (capability `reattach`). */
  listExecs?(): Promise<DurableExecInfo[]>;
  /** Freezes every process; memory may be reclaimed. Calls on a paused sandbox resume it first. */
  pause?(): Promise<void>;
  resume?(): Promise<void>;
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
  readonly specificationVersion: 'runtime-v1';
  readonly name: string;
  readonly capabilities: RuntimeCapabilities;
  /** Checks the host (kernel features, binaries) without starting anything. */
  check(): Promise<RuntimeCheck>;
  start(spec: SandboxSpec): Promise<Sandbox>;
  /**
   * Removes what sandboxes of processes that died (a killed server) left on the host, checking
   * each for liveness; returns how many it removed.
   */
  sweep?(): Promise<number>;
  /** Starts a sandbox up to the point where it needs its layers (capability `prepare`). */
  prepare?(options: { id: string; limits: ResourceLimits }): Promise<PreparedSandbox>;
  /** Sandboxes of this runtime running on this host (capability `reattach`). */
  list?(): Promise<SandboxInfo[]>;
  /**
   * Connects to a running sandbox again, e.g. after a server restart (capability `reattach`).
   * Rejects with a 404 `sandbox_not_found` MagsError when no such sandbox is running.
   */
  attach?(id: string): Promise<Sandbox>;
}
