import type { SandboxProcess } from '../runtimes/runtime.ts';
import { sandboxEnvironment } from './sandbox-spec.ts';
import type { SandboxUse } from './sandbox-use.ts';

export interface ShellRequest {
  rows: number;
  cols: number;
  /** The terminal type the shell's programs are told (`TERM`). */
  term: string;
}

/** A login shell on a terminal in a long-lived sandbox (`mags shell`). */
export interface ShellSession {
  /** Terminal bytes come on `stdout`; `writeStdin` and `resize` drive it; `exited` ends it. */
  readonly process: SandboxProcess;
  /**
   * The terminal went away: the shell is hung up (SIGHUP, stdin closed), like an ssh session
   * that drops, and the sandbox may sleep again. Harmless after the shell has exited.
   */
  hangUp(): void;
}

/** Starts `bash -l` in /workspace on a terminal; the sandbox is in use until it ends. */
export function openSandboxShell(use: SandboxUse, request: ShellRequest): ShellSession {
  let shell: SandboxProcess;
  try {
    shell = use.sandbox.exec({
      argv: ['/bin/bash', '-l'],
      env: sandboxEnvironment({ TERM: request.term }),
      cwd: '/workspace',
      stdin: true,
      tty: { rows: request.rows, cols: request.cols },
    });
  } catch (error) {
    use.release();
    throw error;
  }
  shell.exited.then(use.release, use.release);
  return {
    process: shell,
    hangUp() {
      use.release();
      shell.signal('SIGHUP');
      shell.closeStdin();
    },
  };
}
