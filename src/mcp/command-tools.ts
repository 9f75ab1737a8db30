import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Mags } from '../sdk/mags.ts';
import { runCommandInSandbox } from './run-command.ts';
import { sandboxNameInput } from './sandbox-tools.ts';
import { toolResult } from './tool-result.ts';
import { defaultTruncationLimits } from './truncate-output.ts';

/**
 * Many MCP clients end a call after 60 s (the SDK's default request timeout; Codex's
 * tool_timeout_sec), and those that reset it on progress only do so when they sent a progress
 * token: the default stays under 60 s unless the client asked for progress.
 */
export const defaultCommandTimeoutSeconds = { withProgress: 120, withoutProgress: 50 };
export const maxCommandTimeoutSeconds = 3600;

/** The default timeout for a request, by whether it carries a progress token. */
export function defaultTimeoutSeconds(progressToken: string | number | undefined): number {
  return progressToken === undefined
    ? defaultCommandTimeoutSeconds.withoutProgress
    : defaultCommandTimeoutSeconds.withProgress;
}

const runCommandInput = z.strictObject({
  sandbox: sandboxNameInput,
  command: z
    .union([z.string().min(1).max(65_536), z.array(z.string().max(65_536)).min(1).max(4096)], {
      error: (issue) =>
        issue.input === undefined
          ? 'command is required: a string (run by /bin/sh -c) or an array of strings (argv)'
          : 'command must be a non-empty string or a non-empty array of strings',
    })
    .describe(
      'A string runs through `/bin/sh -c` (pipes, &&, redirections work), e.g. "npm test 2>&1 | ' +
        'tail -n 50"; an array is the exact argv without a shell, e.g. ["node", "-e", "…"].',
    ),
  cwd: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe('Working directory, an absolute sandbox path. Default: /workspace.'),
  env: z
    .record(z.string(), z.string())
    .optional()
    .describe('Extra environment variables, e.g. {"CI": "1"}. Names: letters, digits, _.'),
  timeoutSeconds: z
    .number()
    .positive()
    .max(maxCommandTimeoutSeconds)
    .optional()
    .describe(
      `Wall-clock limit in seconds, at most ${maxCommandTimeoutSeconds}. Default ` +
        `${defaultCommandTimeoutSeconds.withProgress} when the request carries a progress token, else ` +
        `${defaultCommandTimeoutSeconds.withoutProgress} (many clients end a call after 60 s). Past it ` +
        'the command is stopped and the result says it timed out, with the output so far. A ' +
        "shorter time limit of the client's own ends the call first (and stops the command).",
    ),
});

export function registerCommandTools(server: McpServer, client: Mags): void {
  const kib = (bytes: number) => `${bytes / 1024} KiB`;
  server.registerTool(
    'run_command',
    {
      title: 'Run a command in a sandbox',
      description:
        'Runs a command in a sandbox and waits for it to end. Returns the exit code (or how it ' +
        'ended: timed out, stopped, killed for memory), the duration, and stdout and stderr ' +
        `interleaved as written: whole up to ${kib(defaultTruncationLimits.headBytes + defaultTruncationLimits.tailBytes)}, ` +
        `else the first ${kib(defaultTruncationLimits.headBytes)} and the last ${kib(defaultTruncationLimits.tailBytes)} ` +
        'with a marker saying how many bytes were left out. The full output stays in the job ' +
        '(`jobId`; resource mags://jobs/{jobId}/log). A non-zero exit code is a normal result, ' +
        'not a tool error. Sends progress notifications when the request has a progress token; ' +
        'cancelling the request stops the command.',
      inputSchema: runCommandInput,
    },
    (input, extra) =>
      toolResult(() =>
        runCommandInSandbox(client, {
          sandbox: input.sandbox,
          command: input.command,
          cwd: input.cwd,
          env: input.env,
          timeoutSeconds: input.timeoutSeconds ?? defaultTimeoutSeconds(extra._meta?.progressToken),
          signal: extra.signal,
          progressToken: extra._meta?.progressToken,
          sendProgress: (params) =>
            extra.sendNotification({ method: 'notifications/progress', params }),
        }),
      ),
  );
}
