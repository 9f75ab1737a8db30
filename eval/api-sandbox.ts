/**
 * A sandbox reached through the API (`mags.sandboxes`): commands with `exec`, files with the
 * files route. The grader works in a ticket's sandbox this way, after its agent has ended, as
 * any client could; the attempt's end stopped that sandbox, so it is started first (once).
 */
import type { AgentCommandResult, AgentSandbox } from '../src/agents/agent-sandbox.ts';
import type { Mags } from '../src/sdk/mags.ts';

export function apiSandbox(mags: Mags, name: string): Pick<AgentSandbox, 'exec' | 'writeFile'> {
  let started: Promise<unknown> | undefined;
  const start = () => {
    started ??= mags.sandboxes.start(name);
    return started;
  };
  return {
    async exec(command, options): Promise<AgentCommandResult> {
      await start();
      const startedAt = performance.now();
      const result = await mags.sandboxes.execAndWait(name, ['/bin/sh', '-c', command], {
        cwd: options.cwd ?? '/workspace',
        timeoutSeconds: Math.ceil(options.timeoutMs / 1000),
      });
      const output = result.stdout + result.stderr;
      return {
        exitCode: result.exitCode,
        output,
        outputBytes: Buffer.byteLength(output),
        durationMs: performance.now() - startedAt,
        timedOut: result.job.endReason === 'timed_out',
      };
    },
    async writeFile(path, data) {
      // The files route writes into an existing directory: make it first.
      const directory = path.slice(0, path.lastIndexOf('/')) || '/';
      await start();
      await mags.sandboxes.execAndWait(name, ['mkdir', '-p', directory]);
      await mags.sandboxes.files.write(name, path, data);
    },
  };
}
