import { z } from 'zod';
import { type AgentToolDefinition, describeError, failed, succeeded } from './tool-context.ts';

/** Files over this are refused whole; the model reads them in ranges through a command. */
export const readFileMaxBytes = 1024 * 1024;
/** Lines shown per call; the model asks for the next range. */
const maxLinesPerRead = 2000;
/** A longer line is cut (minified files would flood the model). */
const maxLineChars = 2000;

export const readFileInput = z.strictObject({
  path: z.string().min(1).describe('File path (relative paths are from /workspace).'),
  startLine: z.number().int().min(1).optional().describe('First line to show (1-based).'),
  endLine: z.number().int().min(1).optional().describe('Last line to show (inclusive).'),
});

/** Reads a text file from the sandbox with numbered lines, a range at a time. */
export const readFileTool: AgentToolDefinition<z.infer<typeof readFileInput>> = {
  description: `Read a text file in the sandbox. Lines come numbered ("  12\\tcode"); at most ${maxLinesPerRead} lines per call, so give startLine/endLine for long files.`,
  inputSchema: readFileInput,
  async run({ path, startLine = 1, endLine }, _call, context) {
    if (endLine !== undefined && endLine < startLine) {
      return failed(`endLine ${endLine} is before startLine ${startLine}.`);
    }
    let data: Buffer;
    try {
      data = await context.sandbox.readFile(path, { maxBytes: readFileMaxBytes });
    } catch (error) {
      return failed(`cannot read ${path}: ${describeError(error)}`);
    }
    if (data.includes(0)) {
      return failed(
        `${path} is a binary file (${data.length} bytes); inspect it with run_command (e.g. file, xxd | head).`,
      );
    }
    const lines = data.toString('utf8').split('\n');
    // A final newline ends the last line rather than starting an empty one.
    if (lines.at(-1) === '') lines.pop();
    if (lines.length === 0) return succeeded(`${path} is empty.`);
    if (startLine > lines.length) {
      return failed(`${path} has ${lines.length} lines; startLine ${startLine} is past its end.`);
    }
    const last = Math.min(endLine ?? lines.length, lines.length, startLine + maxLinesPerRead - 1);
    const width = String(last).length;
    const shown = lines.slice(startLine - 1, last).map((line, index) => {
      const text =
        line.length > maxLineChars
          ? `${line.slice(0, maxLineChars)} [line cut at ${maxLineChars} of ${line.length} characters]`
          : line;
      return `${String(startLine + index).padStart(width)}\t${text}`;
    });
    const more =
      last < lines.length && (endLine === undefined || endLine > last)
        ? `\n[lines ${startLine}-${last} of ${lines.length}; read on with startLine ${last + 1}]`
        : '';
    return succeeded(`${shown.join('\n')}${more}`);
  },
};
