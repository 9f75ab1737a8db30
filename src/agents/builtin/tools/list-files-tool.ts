import { z } from 'zod';
import { shellQuote } from '../../../config/shell-quote.ts';
import { type AgentToolDefinition, describeError, failed, succeeded } from './tool-context.ts';

const maxEntries = 1000;

export const listFilesInput = z.strictObject({
  path: z.string().min(1).optional().describe('Directory to list (default /workspace).'),
  depth: z.number().int().min(1).max(6).optional().describe('How many levels deep (default 2).'),
});

/** Lists a directory tree in the sandbox (skipping .git and node_modules), capped. */
export const listFilesTool: AgentToolDefinition<z.infer<typeof listFilesInput>> = {
  description: `List files and directories (directories end in /), skipping .git and node_modules. At most ${maxEntries} entries.`,
  inputSchema: listFilesInput,
  async run({ path = '.', depth = 2 }, _call, context) {
    const command = `cd -- ${shellQuote(path)} && find . -mindepth 1 -maxdepth ${depth} \\( -name .git -o -name node_modules \\) -prune -o \\( -type d -printf '%P/\\n' \\) -o -printf '%P\\n' | LC_ALL=C sort | head -n ${maxEntries + 1}`;
    try {
      const result = await context.sandbox.exec(command, {
        timeoutMs: 30_000,
        signal: context.signal,
      });
      if (result.exitCode !== 0) {
        return failed(
          `cannot list ${path}: ${result.output.trim() || `exit code ${result.exitCode}`}`,
        );
      }
      const entries = result.output.split('\n').filter(Boolean);
      if (entries.length === 0) return succeeded(`${path} is empty.`);
      const more =
        entries.length > maxEntries
          ? `\n[more than ${maxEntries} entries; list a subdirectory or less deep]`
          : '';
      return succeeded(`${entries.slice(0, maxEntries).join('\n')}${more}`);
    } catch (error) {
      return failed(`cannot list ${path}: ${describeError(error)}`);
    }
  },
};
