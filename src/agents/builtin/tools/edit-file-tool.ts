import { z } from 'zod';
import {
  type AgentToolDefinition,
  describeError,
  failed,
  succeeded,
  type ToolContext,
} from './tool-context.ts';
import { writeWithParents } from './write-file-tool.ts';

export const editFileInput = z.strictObject({
  path: z.string().min(1).describe('File path (relative paths are from /workspace).'),
  oldText: z
    .string()
    .min(1)
    .describe('The exact text to replace, whitespace and indentation included.'),
  newText: z.string().describe('The text to put in its place.'),
  replaceAll: z
    .boolean()
    .optional()
    .describe('Replace every occurrence instead of requiring exactly one.'),
});

/** Line numbers (1-based) where each occurrence of `needle` starts. */
function occurrenceLines(haystack: string, needle: string): number[] {
  const lines: number[] = [];
  for (
    let index = haystack.indexOf(needle);
    index !== -1;
    index = haystack.indexOf(needle, index + needle.length)
  ) {
    lines.push(haystack.slice(0, index).split('\n').length);
  }
  return lines;
}

/** The file's text, or null when it does not exist (any other error is thrown). */
async function readExisting(context: ToolContext, path: string): Promise<string | null> {
  try {
    return (await context.sandbox.readFile(path, { maxBytes: 8 * 1024 * 1024 })).toString('utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'file_not_found') return null;
    throw error;
  }
}

/**
 * Replaces exact text in a file: one match unless `replaceAll`; none or several is an error. Its
 * diff reaches the log from the workspace snapshot after the call (`workspace-changes.ts`).
 */
export const editFileTool: AgentToolDefinition<z.infer<typeof editFileInput>> = {
  description:
    'Replace exact text in an existing file. oldText must match exactly once (copy it from read_file without the line numbers, with enough surrounding lines to be unique), or set replaceAll.',
  inputSchema: editFileInput,
  async run({ path, oldText, newText, replaceAll }, _call, context) {
    try {
      const before = await readExisting(context, path);
      if (before === null) {
        return failed(
          `${path} does not exist. Create it with write_file, or check the path with list_files.`,
        );
      }
      const lines = occurrenceLines(before, oldText);
      if (lines.length === 0) {
        return failed(
          `oldText was not found in ${path}. Read the file again (read_file) and copy the text exactly, with its whitespace and indentation and without the line numbers.`,
        );
      }
      if (lines.length > 1 && !replaceAll) {
        return failed(
          `oldText occurs ${lines.length} times in ${path} (at lines ${lines.join(', ')}). Include more of the surrounding lines so it matches once, or set replaceAll: true to change every one.`,
        );
      }
      const after = replaceAll
        ? before.replaceAll(oldText, newText)
        : before.replace(oldText, () => newText);
      if (after === before) return succeeded(`${path} already has that text; nothing changed.`);
      await writeWithParents(context, path, after);
      return succeeded(
        `Replaced ${lines.length === 1 ? '1 occurrence' : `${lines.length} occurrences`} in ${path} (at line${lines.length === 1 ? '' : 's'} ${lines.join(', ')}).`,
      );
    } catch (error) {
      return failed(`cannot edit ${path}: ${describeError(error)}`);
    }
  },
};
