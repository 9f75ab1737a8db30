import { z } from 'zod';
import { commandEvent } from '../../command-event.ts';
import { type AgentToolDefinition, describeError, failed, succeeded } from './tool-context.ts';
import { truncateForModel } from './truncate-output.ts';

export const runCommandInput = z.strictObject({
  command: z.string().min(1).describe('A shell command (run with /bin/sh -c).'),
  cwd: z
    .string()
    .min(1)
    .optional()
    .describe('Directory to run in (default /workspace; relative paths are from /workspace).'),
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Stop the command after this many seconds (default 120, at most 600).'),
});

/** Runs a command in the sandbox; the model sees its exit and output cut head+tail. */
export const runCommandTool: AgentToolDefinition<z.infer<typeof runCommandInput>> = {
  description:
    'Run a shell command in the sandbox, in /workspace by default. Returns the exit code and the output (stdout and stderr together; long output is cut in the middle).',
  inputSchema: runCommandInput,
  async run({ command, cwd, timeoutSeconds }, { toolCallId }, context) {
    const maxMs = context.commandTimeoutMs.max;
    if (timeoutSeconds !== undefined && timeoutSeconds * 1000 > maxMs) {
      return failed(
        `timeoutSeconds ${timeoutSeconds} is over the limit of ${maxMs / 1000}; use at most ${maxMs / 1000}, or run the command in the background and poll its output.`,
      );
    }
    const timeoutMs =
      timeoutSeconds !== undefined ? timeoutSeconds * 1000 : context.commandTimeoutMs.default;
    let result: Awaited<ReturnType<typeof context.sandbox.exec>>;
    try {
      result = await context.sandbox.exec(command, {
        timeoutMs,
        signal: context.signal,
        ...(cwd ? { cwd } : {}),
      });
    } catch (error) {
      return failed(`the command could not be started: ${describeError(error)}`);
    }
    await context.emit(
      commandEvent({ command, source: 'agent', step: context.step(), toolCallId }, result),
    );
    const seconds = (result.durationMs / 1000).toFixed(1);
    const output = truncateForModel(result.output) || '(no output)';
    if (result.timedOut) {
      return failed(
        `the command timed out after ${timeoutMs / 1000} s and was stopped. Output so far:\n${output}`,
      );
    }
    const exit = result.exitCode === null ? 'ended by a signal' : `exit code ${result.exitCode}`;
    return succeeded(`${exit} (${seconds} s)\n${output}`);
  },
};
