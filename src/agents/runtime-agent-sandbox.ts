import { posix } from 'node:path';
import type { Sandbox } from '../runtimes/runtime.ts';
import { sandboxEnvironment } from '../sandboxes/sandbox-spec.ts';
import type { AgentCommandResult, AgentSandbox } from './agent-sandbox.ts';

/** Output kept per command; the rest is counted (`outputBytes`) and cut with a note. */
const defaultMaxOutputBytes = 8 * 1024 * 1024;
/** After SIGTERM on a timeout or stop, what a command gets before SIGKILL. */
const killGraceMs = 2000;

/**
 * An agent's tools over a running runtime sandbox: every command and file goes through the guest
 * protocol into the sandbox, so a path like `/etc/shadow` is the sandbox's own.
 */
export function runtimeAgentSandbox(
  sandbox: Sandbox,
  options: { env?: Record<string, string>; maxOutputBytes?: number } = {},
): AgentSandbox {
  const env = sandboxEnvironment(options.env ?? {});
  const maxOutputBytes = options.maxOutputBytes ?? defaultMaxOutputBytes;
  return {
    async exec(command, execOptions): Promise<AgentCommandResult> {
      const { timeoutMs, cwd, signal, onOutput } = execOptions;
      const chunks: Buffer[] = [];
      let kept = 0;
      let outputBytes = 0;
      const ended = await execInSandbox(sandbox, {
        argv: ['/bin/sh', '-c', command],
        env: execOptions.env ? sandboxEnvironment({ ...options.env, ...execOptions.env }) : env,
        cwd: resolveInSandbox(cwd ?? '/workspace'),
        timeoutMs,
        signal,
        onOutput: (chunk) => {
          onOutput?.(chunk);
          outputBytes += chunk.length;
          if (kept >= maxOutputBytes) return;
          const part = chunk.subarray(0, maxOutputBytes - kept);
          chunks.push(part);
          kept += part.length;
        },
      });
      let output = Buffer.concat(chunks).toString('utf8');
      if (outputBytes > kept) output += `\n[output cut at ${kept} of ${outputBytes} bytes]`;
      return { ...ended, output, outputBytes };
    },
    readFile(path, readOptions) {
      return sandbox.readFile(resolveInSandbox(path), readOptions);
    },
    writeFile(path, data) {
      return sandbox.writeFile(resolveInSandbox(path), Buffer.from(data));
    },
  };
}

/**
 * Runs an exact argv in the sandbox to its end, handing stdout and stderr to `onOutput` as they
 * come (interleaved); past `timeoutMs`, or when `signal` aborts, SIGTERM and then SIGKILL.
 */
export async function execInSandbox(
  sandbox: Sandbox,
  options: {
    argv: string[];
    env: Record<string, string>;
    cwd: string;
    timeoutMs: number;
    signal?: AbortSignal;
    onOutput(chunk: Buffer): void;
  },
): Promise<{ exitCode: number | null; durationMs: number; timedOut: boolean }> {
  // A stop that came before the command (between two of an agent's or the evidence's commands)
  // must not let it start: the abort event has fired already and would never end it.
  if (options.signal?.aborted) return { exitCode: null, durationMs: 0, timedOut: false };
  const started = performance.now();
  const process = sandbox.exec({ argv: options.argv, env: options.env, cwd: options.cwd });
  process.stdout.on('data', options.onOutput);
  process.stderr.on('data', options.onOutput);
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const end = () => {
    process.signal('SIGTERM');
    killTimer = setTimeout(() => process.signal('SIGKILL'), killGraceMs);
  };
  const deadline = setTimeout(() => {
    timedOut = true;
    end();
  }, options.timeoutMs);
  options.signal?.addEventListener('abort', end, { once: true });
  try {
    const result = await process.exited;
    // The streams may still hold the last bytes when the exit arrives.
    await Promise.all([drained(process.stdout), drained(process.stderr)]);
    return { exitCode: result.exitCode, durationMs: performance.now() - started, timedOut };
  } finally {
    clearTimeout(deadline);
    clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', end);
  }
}

/** A relative path is taken from /workspace, as a shell in the sandbox would. */
export function resolveInSandbox(path: string): string {
  return posix.resolve('/workspace', path);
}

function drained(stream: NodeJS.ReadableStream & { readableEnded?: boolean }): Promise<void> {
  if (stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}
