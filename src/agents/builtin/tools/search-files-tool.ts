import { z } from 'zod';
import { shellQuote } from '../../../config/shell-quote.ts';
import { type AgentToolDefinition, describeError, failed, succeeded } from './tool-context.ts';

const maxMatches = 200;
const maxLineChars = 300;

export const searchFilesInput = z.strictObject({
  pattern: z
    .string()
    .min(1)
    .describe('A regular expression (grep -E), or plain text with fixedStrings.'),
  path: z.string().min(1).optional().describe('File or directory to search (default /workspace).'),
  include: z
    .string()
    .min(1)
    .optional()
    .describe('Only files whose name matches this glob, e.g. "*.ts".'),
  ignoreCase: z.boolean().optional(),
  fixedStrings: z.boolean().optional().describe('Treat pattern as plain text.'),
});

/** grep -rn in the sandbox (text files, skipping .git and node_modules), capped. */
export const searchFilesTool: AgentToolDefinition<z.infer<typeof searchFilesInput>> = {
  description: `Search file contents (grep -rn): returns file:line:text for each match, at most ${maxMatches}.`,
  inputSchema: searchFilesInput,
  async run({ pattern, path = '.', include, ignoreCase, fixedStrings }, _call, context) {
    const flags = [
      '-rnI',
      '--exclude-dir=.git',
      '--exclude-dir=node_modules',
      fixedStrings ? '-F' : '-E',
    ];
    if (ignoreCase) flags.push('-i');
    if (include) flags.push(`--include=${shellQuote(include)}`);
    try {
      // grep's own status tells "no match" (1) from a bad pattern or path (2); it rides on stderr
      // because head may cut stdout (then there were matches).
      const result = await context.sandbox.exec(
        `{ grep ${flags.join(' ')} -e ${shellQuote(pattern)} -- ${shellQuote(path)}; echo "grep-exit:$?" >&2; } 2>&1 | head -n ${maxMatches + 2}`,
        { timeoutMs: 60_000, signal: context.signal },
      );
      const lines = result.output.split('\n').filter(Boolean);
      const statusLine = lines.findIndex((line) => line.startsWith('grep-exit:'));
      const status = statusLine === -1 ? 0 : Number(lines[statusLine]?.slice('grep-exit:'.length));
      if (statusLine !== -1) lines.splice(statusLine, 1);
      if (status === 1) return succeeded(`No matches for ${pattern} in ${path}.`);
      if (status > 1) {
        const said = lines.slice(0, 20).join('\n');
        return failed(
          `grep ended with exit code ${status}${said ? `:\n${said}` : ''}\nCheck the pattern (an extended regular expression; set fixedStrings for plain text) and the path.`,
        );
      }
      const shown = lines
        .slice(0, maxMatches)
        .map((line) =>
          line.length > maxLineChars ? `${line.slice(0, maxLineChars)} [cut]` : line,
        );
      const more =
        lines.length > maxMatches
          ? `\n[more than ${maxMatches} matches; narrow the pattern, the path or include]`
          : '';
      return succeeded(`${shown.join('\n')}${more}`);
    } catch (error) {
      return failed(`cannot search ${path}: ${describeError(error)}`);
    }
  },
};
