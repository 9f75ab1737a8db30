import { PassThrough, type Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sandbox, SandboxProcess } from '../runtimes/runtime.ts';

/** How often a running command's refusals are looked for: a line shows up about this late. */
const pollMs = 500;
/**
 * After the command ends: the keeper reads a refused connection's NFLOG message as the kernel
 * sends it (during the refused connect()), but may write its line a moment after the command's
 * exit reached this process; a short wait keeps the last refusal in this run's output.
 */
const settleMs = 50;

/**
 * Writes what a sandbox's egress allow-list refused into a run's stderr while the command runs
 * (`mags: egress blocked: ...`, one line each), live rather than as a summary at the end: a long
 * `npm install` shows why it fails as it fails. A sandbox without an allow-list reports nothing.
 */
export function reportEgressBlocked(
  sandbox: Sandbox,
  stderr: Writable,
  enabled: boolean,
): { finish(): Promise<void> } {
  const read = sandbox.egressBlocked?.bind(sandbox);
  if (!enabled || !read) return { finish: async () => {} };
  let reading: Promise<void> = Promise.resolve();
  const poll = () => {
    reading = reading.then(async () => {
      const lines = await read().catch(() => []);
      for (const line of lines) stderr.write(`${line}\n`);
    });
    return reading;
  };
  const timer = setInterval(poll, pollMs);
  timer.unref();
  return {
    async finish() {
      clearInterval(timer);
      await sleep(settleMs);
      await poll();
    },
  };
}

/**
 * The same for an exec in a long-lived sandbox (`mags exec`): the command's stderr with the
 * refusals written into it as they happen, ending once the last is in.
 */
export function withEgressBlocked(command: SandboxProcess, sandbox: Sandbox): SandboxProcess {
  if (!sandbox.egressBlocked) return command;
  const stderr = new PassThrough();
  command.stderr.pipe(stderr, { end: false });
  const commandStderrEnded = new Promise<void>((resolve) => {
    command.stderr.once('end', resolve);
    command.stderr.once('close', resolve);
  });
  const reporter = reportEgressBlocked(sandbox, stderr, true);
  const exited = command.exited.finally(async () => {
    await reporter.finish();
    await commandStderrEnded;
    stderr.end();
  });
  return {
    stdout: command.stdout,
    stderr,
    exited,
    writeStdin: (data) => command.writeStdin(data),
    closeStdin: () => command.closeStdin(),
    signal: (name) => command.signal(name),
    resize: (rows, cols) => command.resize(rows, cols),
  };
}
