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
}

export interface ExecRequest {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
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

export interface SandboxExit {
  /** Processes the kernel's OOM killer killed inside the sandbox. */
  oomKills: number;
  peakMemoryBytes: number | undefined;
}

export interface Sandbox {
  readonly id: string;
  /** Limits that could not be applied on this host, already in words for the user. */
  readonly warnings: string[];
  exec(request: ExecRequest): SandboxProcess;
  writeFile(
    path: string,
    data: Buffer | AsyncIterable<Buffer>,
    options?: { mode?: number },
  ): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  /** Counters a caller reads after a command to explain how it ended (e.g. OOM kills). */
  usage(): Promise<SandboxExit>;
  /** Ends every process and releases every resource; safe to call twice. */
  stop(): Promise<SandboxExit>;
  pause?(): Promise<void>;
  resume?(): Promise<void>;
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
}
