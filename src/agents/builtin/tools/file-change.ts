import { posix } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { ToolContext } from './tool-context.ts';

/** The path as the diff and the event show it: relative to /workspace when inside it. */
export function displayPath(path: string): string {
  const absolute = posix.resolve('/workspace', path);
  return absolute.startsWith('/workspace/') ? absolute.slice('/workspace/'.length) : absolute;
}

/** Emits a `file_change` with a unified diff of `before` (null: a new file) to `after`. */
export async function emitFileChange(
  context: ToolContext,
  path: string,
  before: string | null,
  after: string,
): Promise<{ added: number; removed: number }> {
  const shown = displayPath(path);
  const diff = createTwoFilesPatch(
    before === null ? '/dev/null' : `a/${shown}`,
    `b/${shown}`,
    before ?? '',
    after,
    undefined,
    undefined,
    { context: 3 },
  );
  await context.emit({
    type: 'file_change',
    step: context.step(),
    path: shown,
    change: before === null ? 'created' : 'modified',
    diff,
  });
  let added = 0;
  let removed = 0;
  for (const line of diff.split('\n')) {
    if (line.startsWith('+') && !line.startsWith('+++')) added++;
    else if (line.startsWith('-') && !line.startsWith('---')) removed++;
  }
  return { added, removed };
}

/** The file's text, or null when it does not exist (any other error is thrown). */
export async function readExisting(context: ToolContext, path: string): Promise<string | null> {
  try {
    return (await context.sandbox.readFile(path, { maxBytes: 8 * 1024 * 1024 })).toString('utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'file_not_found') return null;
    throw error;
  }
}
