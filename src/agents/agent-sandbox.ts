/**
 * What an agent's tools may do: only this, and only inside the ticket's sandbox. Paths are inside
 * the sandbox (relative ones from /workspace); nothing here can name a host path.
 */
export interface AgentCommandResult {
  exitCode: number | null;
  /** stdout and stderr interleaved as they came, whole (the caller truncates for a model). */
  output: string;
  /** Size of the whole output in bytes. */
  outputBytes: number;
  durationMs: number;
  timedOut: boolean;
}

export interface AgentExecOptions {
  timeoutMs: number;
  cwd?: string;
  signal?: AbortSignal;
  /** Variables added to (or replacing) the sandbox's usual environment, for this command only. */
  env?: Record<string, string>;
  /**
   * stdout and stderr as they come (interleaved, every byte, also past what `output` keeps): an
   * agent that drives a coding CLI in the sandbox maps its JSON events onto ticket events live.
   */
  onOutput?(chunk: Buffer): void;
}

export interface AgentSandbox {
  /** Runs `command` through /bin/sh -c, in /workspace unless `cwd` says otherwise. */
  exec(command: string, options: AgentExecOptions): Promise<AgentCommandResult>;
  /** Rejects with a `MagsError` (404 `file_not_found`, 413 `file_too_large`) the tool reports. */
  readFile(path: string, options?: { maxBytes?: number }): Promise<Buffer>;
  writeFile(path: string, data: Buffer | string): Promise<void>;
}
