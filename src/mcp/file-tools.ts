import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { Mags } from '../sdk/mags.ts';
import { readSandboxText } from './read-sandbox-text.ts';
import { sandboxNameInput } from './sandbox-tools.ts';
import { withToolHints } from './tool-error-hints.ts';
import { jsonResult, toolResult } from './tool-result.ts';

export const defaultReadBytes = 256 * 1024;
export const maxReadBytes = 1024 * 1024;
/** file_edit reads the whole file: larger ones are refused rather than half-edited. */
export const maxEditBytes = 4 * 1024 * 1024;

const pathInput = (what: string) =>
  z
    .string()
    .min(1)
    .max(4096)
    .describe(`${what}, an absolute path inside the sandbox, e.g. /workspace/src/index.js.`);

const lineInput = (what: string) =>
  z.number().int().min(1).optional().describe(`${what} (1-based, inclusive).`);

export function registerFileTools(server: McpServer, client: Mags): void {
  server.registerTool(
    'file_read',
    {
      title: 'Read a file',
      description:
        'Reads a text file (UTF-8) of a sandbox. Whole files up to the byte limit; past it, the ' +
        'first bytes and a note saying how many were left out (use startLine/endLine or a larger ' +
        'maxBytes for the rest). A binary file is reported as binary with its size instead of ' +
        'its bytes. Directories: use file_list.',
      inputSchema: {
        sandbox: sandboxNameInput,
        path: pathInput('The file'),
        startLine: lineInput('First line to return'),
        endLine: lineInput('Last line to return'),
        maxBytes: z
          .number()
          .int()
          .min(1)
          .max(maxReadBytes)
          .optional()
          .describe(`Most bytes to return (default ${defaultReadBytes}, at most ${maxReadBytes}).`),
      },
      annotations: { readOnlyHint: true },
    },
    (input) =>
      toolResult(() =>
        withToolHints(async () => {
          const read = await readSandboxText(client, input.sandbox, input.path, {
            startLine: input.startLine,
            endLine: input.endLine,
            maxBytes: input.maxBytes ?? defaultReadBytes,
          });
          return jsonResult(`${read.summary}\n${read.content ?? ''}`, { ...read });
        }),
      ),
  );

  server.registerTool(
    'file_write',
    {
      title: 'Write a file',
      description:
        'Writes a text file (UTF-8) in a sandbox, replacing it whole if it exists; written ' +
        'atomically (a failed write leaves the old file). Missing parent directories are ' +
        'created. For a change to part of a file, file_edit is safer.',
      inputSchema: {
        sandbox: sandboxNameInput,
        path: pathInput('The file'),
        content: z
          .string()
          .max(maxEditBytes)
          .describe(`The whole new content of the file (at most ${maxEditBytes} characters).`),
        mode: z
          .string()
          .regex(/^[0-7]{3,4}$/)
          .optional()
          .describe('Permission bits in octal, e.g. "755" for a script (default "644").'),
      },
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    (input) =>
      toolResult(() =>
        withToolHints(async () => {
          const bytes = new TextEncoder().encode(input.content);
          const mode = input.mode === undefined ? undefined : Number.parseInt(input.mode, 8);
          await client.sandboxes.files.write(input.sandbox, input.path, bytes, { mode });
          return jsonResult(`Wrote ${bytes.length} bytes to ${input.path}.`, {
            path: input.path,
            sizeBytes: bytes.length,
          });
        }),
      ),
  );

  server.registerTool(
    'file_edit',
    {
      title: 'Edit a file',
      description:
        'Replaces an exact string in a text file of a sandbox. `oldString` must occur exactly ' +
        'once (include enough surrounding lines to make it unique) unless `replaceAll`; no match ' +
        'or several matches are errors that change nothing. Whitespace and indentation count. ' +
        `Files up to ${maxEditBytes / 1024 / 1024} MiB; the file keeps its permission bits.`,
      inputSchema: {
        sandbox: sandboxNameInput,
        path: pathInput('The file'),
        oldString: z.string().min(1).describe('The exact text to replace.'),
        newString: z.string().describe('The text to put in its place (may be empty).'),
        replaceAll: z
          .boolean()
          .optional()
          .describe('Replace every occurrence instead of requiring exactly one (default false).'),
      },
      annotations: { destructiveHint: true },
    },
    (input) =>
      toolResult(() =>
        withToolHints(async () => {
          const { content, mode } = await readWholeText(client, input.sandbox, input.path);
          const matches = content.split(input.oldString).length - 1;
          if (matches === 0) {
            throw new InvalidInputError(`oldString occurs 0 times in ${input.path}.`, {
              code: 'no_match',
              hint: 'Nothing was changed. file_read the file and copy the text exactly, whitespace and indentation included.',
            });
          }
          if (matches > 1 && !input.replaceAll) {
            throw new InvalidInputError(`oldString occurs ${matches} times in ${input.path}.`, {
              code: 'several_matches',
              hint: 'Nothing was changed. Add surrounding lines to oldString so it occurs once, or set replaceAll to replace all of them.',
            });
          }
          const updated = content.split(input.oldString).join(input.newString);
          await client.sandboxes.files.write(input.sandbox, input.path, updated, { mode });
          return jsonResult(`Replaced ${matches} occurrence(s) in ${input.path}.`, {
            path: input.path,
            replacements: matches,
            sizeBytes: new TextEncoder().encode(updated).length,
          });
        }),
      ),
  );

  server.registerTool(
    'file_list',
    {
      title: 'List a directory',
      description:
        "Lists a directory of a sandbox: each entry's name, type (file, directory, symlink, " +
        'other), size in bytes and permission bits, sorted by name (at most 10,000 entries).',
      inputSchema: { sandbox: sandboxNameInput, path: pathInput('The directory') },
      annotations: { readOnlyHint: true },
    },
    (input) =>
      toolResult(() =>
        withToolHints(async () => {
          const listing = await client.sandboxes.files.list(input.sandbox, input.path);
          const lines = listing.entries.map(
            (entry) =>
              `${entry.type.padEnd(9)} ${String(entry.sizeBytes).padStart(10)}  ${entry.name}${entry.type === 'directory' ? '/' : ''}${entry.target ? ` -> ${entry.target}` : ''}`,
          );
          if (listing.truncated) lines.push('(more entries not shown)');
          const text = `${listing.path}: ${listing.entries.length} entries\n${lines.join('\n')}`;
          return jsonResult(text, { ...listing });
        }),
      ),
  );
}

/** The whole file as text and its permission bits, for an edit. */
async function readWholeText(
  client: Mags,
  sandbox: string,
  path: string,
): Promise<{ content: string; mode: number | undefined }> {
  const read = await readSandboxText(client, sandbox, path, { maxBytes: maxEditBytes });
  if (read.binary) {
    throw new InvalidInputError(`${path} is a binary file; file_edit edits text files only.`, {
      code: 'binary_file',
      hint: 'Use run_command to change it.',
    });
  }
  if (read.truncated) {
    throw new InvalidInputError(`${path} is over the ${maxEditBytes} bytes file_edit reads.`, {
      code: 'too_large',
      hint: 'Edit it with run_command (sed, a script) instead.',
    });
  }
  const slash = path.lastIndexOf('/');
  const parent = slash <= 0 ? '/' : path.slice(0, slash);
  const name = path.slice(slash + 1);
  const listing = await client.sandboxes.files.list(sandbox, parent);
  const entry = listing.entries.find((candidate) => candidate.name === name);
  return {
    content: read.content ?? '',
    mode: entry ? Number.parseInt(entry.mode, 8) & 0o7777 : undefined,
  };
}
