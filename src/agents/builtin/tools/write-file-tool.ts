import { posix } from 'node:path';
import { z } from 'zod';
import { resolveInSandbox } from '../../runtime-agent-sandbox.ts';
import { emitFileChange, readExisting } from './file-change.ts';
import {
  type AgentToolDefinition,
  describeError,
  failed,
  shellQuote,
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

/** Creates or replaces a whole file; the change goes into the log as a unified diff. */
export const writeFileTool: AgentToolDefinition<z.infer<typeof writeFileInput>> = {
  description:
    'Create a file or replace its whole content (parent directories are created). For a small change to an existing file prefer edit_file.',
  inputSchema: writeFileInput,
  async run({ path, content }, _call, context) {
    try {
      const before = await readExisting(context, path);
      await writeWithParents(context, path, content);
      const { added, removed } = await emitFileChange(context, path, before, content);
      return succeeded(
        `${before === null ? 'Created' : 'Wrote'} ${resolveInSandbox(path)} (${Buffer.byteLength(content)} bytes, +${added} -${removed} lines).`,
      );
    } catch (error) {
      return failed(`cannot write ${path}: ${describeError(error)}`);
    }
  },
};
