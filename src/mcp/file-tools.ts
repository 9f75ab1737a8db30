import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Mags } from '../sdk/mags.ts';
import { editSandboxFile, maxEditBytes } from './edit-sandbox-file.ts';
import { readSandboxText } from './read-sandbox-text.ts';
import { sandboxNameInput } from './sandbox-tools.ts';
import { jsonResult, toolResult } from './tool-result.ts';

export { maxEditBytes };
export const defaultReadBytes = 256 * 1024;
export const maxReadBytes = 1024 * 1024;
/**
 * Most characters file_write and file_edit take in one string: 1 MiB, so the largest call
 * (at most 4 bytes a character as UTF-8, more as JSON escapes) fits the /mcp body limit.
 */
export const maxContentCharacters = 1024 * 1024;

const pathInput = (what: string, example: string) =>
  z
    .string()
    .min(1)
    .max(4096)
    .describe(`${what}, an absolute path inside the sandbox, e.g. ${example}.`);

const lineInput = (what: string) =>
  z.number().int().min(1).optional().describe(`${what} (1-based, inclusive).`);

const fileReadInput = z
  .strictObject({
    sandbox: sandboxNameInput,
    path: pathInput('The file', '/workspace/src/index.js'),
    startLine: lineInput('First line to return (default 1)'),
    endLine: lineInput('Last line to return (default: the last line)'),
    maxBytes: z
      .number()
      .int()
      .min(1)
      .max(maxReadBytes)
      .optional()
      .describe(`Most bytes to return (default ${defaultReadBytes}, at most ${maxReadBytes}).`),
  })
  .refine(
    (input) =>
      input.startLine === undefined ||
      input.endLine === undefined ||
      input.endLine >= input.startLine,
    { message: 'endLine must not be before startLine', path: ['endLine'] },
  );

export function registerFileTools(server: McpServer, client: Mags): void {
  server.registerTool(
    'file_read',
    {
      title: 'Read a file',
      description:
        'Reads a text file (UTF-8) of a sandbox. Whole files up to the byte limit; past it, the ' +
        'first bytes and a note saying how many were left out (use startLine/endLine or a larger ' +
        'maxBytes for the rest). A line range is looked for in the first 8 MiB of the file. ' +
        'A binary file is reported as binary with its size instead of its bytes. Directories: ' +
        'use file_list.',
      inputSchema: fileReadInput,
      annotations: { readOnlyHint: true },
    },
    (input, { signal }) =>
      toolResult(async () => {
        const read = await readSandboxText(client, input.sandbox, input.path, {
          startLine: input.startLine,
          endLine: input.endLine,
          maxBytes: input.maxBytes ?? defaultReadBytes,
          signal,
        });
        return jsonResult(`${read.summary}\n${read.content ?? ''}`, { ...read });
      }),
  );

  server.registerTool(
    'file_write',
    {
      title: 'Write a file',
      description:
        'Writes a text file (UTF-8) in a sandbox, replacing it whole if it exists; written ' +
        'atomically (a failed write leaves the old file). Missing parent directories are ' +
        'created. For a change to part of a file, file_edit is safer.',
      inputSchema: z.strictObject({
        sandbox: sandboxNameInput,
        path: pathInput('The file', '/workspace/src/index.js'),
        content: z
          .string()
          .max(maxContentCharacters)
          .describe(
            `The whole new content of the file (at most ${maxContentCharacters} characters; a larger file: write it in parts with run_command, or upload it).`,
          ),
        mode: z
          .string()
          .regex(/^[0-7]{3,4}$/)
          .optional()
          .describe('Permission bits in octal, e.g. "755" for a script (default "644").'),
      }),
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    (input) =>
      toolResult(async () => {
        const bytes = new TextEncoder().encode(input.content);
        const mode = input.mode === undefined ? undefined : Number.parseInt(input.mode, 8);
        await client.sandboxes.files.write(input.sandbox, input.path, bytes, { mode });
        return jsonResult(`Wrote ${bytes.length} bytes to ${input.path}.`, {
          path: input.path,
          sizeBytes: bytes.length,
        });
      }),
  );

  server.registerTool(
    'file_edit',
    {
      title: 'Edit a file',
      description:
        'Replaces an exact string in a text file of a sandbox. `oldString` must occur exactly ' +
        'once (include enough surrounding lines to make it unique) unless `replaceAll`; no match ' +
        'or several matches are errors that change nothing. Whitespace and indentation count. ' +
        `UTF-8 text files up to ${maxEditBytes / 1024 / 1024} MiB, before and after the edit; ` +
        'every other byte is kept (a byte-order mark, \\r\\n line ends: oldString written with ' +
        '\\n matches them). A symlink is followed: the file it leads to is edited and keeps its ' +
        'permission bits. If the file changes while the edit is made, nothing is written ' +
        '(file_changed). The result gives the line of each replaced occurrence.',
      inputSchema: z.strictObject({
        sandbox: sandboxNameInput,
        path: pathInput('The file', '/workspace/src/index.js'),
        oldString: z
          .string()
          .min(1)
          .max(maxContentCharacters)
          .describe(`The exact text to replace (at most ${maxContentCharacters} characters).`),
        newString: z
          .string()
          .max(maxContentCharacters)
          .describe(
            `The text to put in its place (may be empty; at most ${maxContentCharacters} characters).`,
          ),
        replaceAll: z
          .boolean()
          .optional()
          .describe('Replace every occurrence instead of requiring exactly one (default false).'),
      }),
      annotations: { destructiveHint: true },
    },
    (input, { signal }) =>
      toolResult(async () => {
        const edit = await editSandboxFile(client, { ...input, signal });
        const lines = `${edit.lines.join(', ')}${edit.replacements > edit.lines.length ? ', ...' : ''}`;
        const notes = [
          edit.writtenPath === input.path
            ? ''
            : ` (the file the symlink leads to, ${edit.writtenPath})`,
          edit.convertedToCrlf
            ? ' (the file ends lines with \\r\\n: the strings were matched and written so)'
            : '',
        ].join('');
        const summary = `Replaced ${edit.replacements} occurrence(s) in ${input.path} at line(s) ${lines}${notes}; it is now ${edit.bytes.length} bytes.`;
        return jsonResult(summary, {
          summary,
          path: input.path,
          writtenPath: edit.writtenPath,
          replacements: edit.replacements,
          lines: edit.lines,
          lineEndsConverted: edit.convertedToCrlf,
          sizeBytes: edit.bytes.length,
        });
      }),
  );

  server.registerTool(
    'file_list',
    {
      title: 'List a directory',
      description:
        "Lists a directory of a sandbox: each entry's name, type (file, directory, symlink, " +
        'other), size in bytes and permission bits, sorted by name (at most 10,000 entries).',
      inputSchema: z.strictObject({
        sandbox: sandboxNameInput,
        path: pathInput('The directory', '/workspace/src'),
      }),
      annotations: { readOnlyHint: true },
    },
    (input) =>
      toolResult(async () => {
        const listing = await client.sandboxes.files.list(input.sandbox, input.path);
        const lines = listing.entries.map(
          (entry) =>
            `${entry.type.padEnd(9)} ${String(entry.sizeBytes).padStart(10)}  ${entry.name}${entry.type === 'directory' ? '/' : ''}${entry.target ? ` -> ${entry.target}` : ''}`,
        );
        if (listing.truncated) lines.push('(more entries not shown)');
        const text = `${listing.path}: ${listing.entries.length} entries\n${lines.join('\n')}`;
        return jsonResult(text, { ...listing });
      }),
  );
}
