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
    async exec(command, { timeoutMs, cwd, signal }): Promise<AgentCommandResult> {
      const started = performance.now();
      const process = sandbox.exec({
        argv: ['/bin/sh', '-c', command],
        env,
        cwd: resolveInSandbox(cwd ?? '/workspace'),
      });
      const chunks: Buffer[] = [];
      let kept = 0;
      let outputBytes = 0;
      const collect = (chunk: Buffer) => {
        outputBytes += chunk.length;
        if (kept >= maxOutputBytes) return;
        const part = chunk.subarray(0, maxOutputBytes - kept);
        chunks.push(part);
        kept += part.length;
      };
      process.stdout.on('data', collect);
      process.stderr.on('data', collect);
      let timedOut = false;
      let killTimer: NodeJS.Timeout | undefined;
      const end = () => {
        process.signal('SIGTERM');
        killTimer = setTimeout(() => process.signal('SIGKILL'), killGraceMs);
      };
      const deadline = setTimeout(() => {
        timedOut = true;
        end();
      }, timeoutMs);
      signal?.addEventListener('abort', end, { once: true });
      try {
        const result = await process.exited;
        // The streams may still hold the last bytes when the exit arrives.
        await Promise.all([drained(process.stdout), drained(process.stderr)]);
        let output = Buffer.concat(chunks).toString('utf8');
        if (outputBytes > kept) {
          output += `\n[output cut at ${kept} of ${outputBytes} bytes]`;
        }
        return {
          exitCode: result.exitCode,
          output,
          outputBytes,
          durationMs: performance.now() - started,
          timedOut,
        };
      } finally {
        clearTimeout(deadline);
        clearTimeout(killTimer);
        signal?.removeEventListener('abort', end);
      }
    },
    readFile(path, readOptions) {
      return sandbox.readFile(resolveInSandbox(path), readOptions);
    },
    writeFile(path, data) {
      return sandbox.writeFile(resolveInSandbox(path), Buffer.from(data));
    },
  };
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
