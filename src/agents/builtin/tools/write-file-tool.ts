import { posix } from 'node:path';
import { z } from 'zod';
import { shellQuote } from '../../../config/shell-quote.ts';
import { resolveInSandbox } from '../../runtime-agent-sandbox.ts';
import {
  type AgentToolDefinition,
  describeError,
  failed,
  succeeded,
  type ToolContext,
} from './tool-context.ts';

export const writeFileInput = z.strictObject({
  path: z.string().min(1).describe('File path (relative paths are from /workspace).'),
  content: z.string().describe('The whole new content of the file.'),
});

/** Writes `content` to `path`, making missing parent directories first. */
export async function writeWithParents(
  context: ToolContext,
  path: string,
  content: string,
): Promise<void> {
  try {
    await context.sandbox.writeFile(path, content);
  } catch (first) {
    // Most often a missing directory: make it (in the sandbox) and try once more.
    const parent = posix.dirname(resolveInSandbox(path));
    const made = await context.sandbox.exec(`mkdir -p -- ${shellQuote(parent)}`, {
      timeoutMs: 30_000,
    });
    if (made.exitCode !== 0) throw first;
    await context.sandbox.writeFile(path, content);
  }
}

/**
 * Creates or replaces a whole file. Its diff reaches the log like any tool's change: from the
 * workspace snapshot after the call (`workspace-changes.ts`).
 */
export const writeFileTool: AgentToolDefinition<z.infer<typeof writeFileInput>> = {
  description:
    'Create a file or replace its whole content (parent directories are created). For a small change to an existing file prefer edit_file.',
  inputSchema: writeFileInput,
  async run({ path, content }, _call, context) {
    try {
      await writeWithParents(context, path, content);
      return succeeded(
        `Wrote ${resolveInSandbox(path)} (${Buffer.byteLength(content)} bytes, ${lineCount(content)} lines).`,
      );
    } catch (error) {
      return failed(`cannot write ${path}: ${describeError(error)}`);
    }
  },
};

function lineCount(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}
