/**
 * A unified diff (git's format) as rows a viewer draws: per file its path, change, counts and
 * hunks; per hunk its lines with old and new line numbers, and the same lines paired side by side.
 * Pure data: no DOM, so it is tested in Node.
 */
import { parsePatch } from 'diff';

export type RowKind = 'context' | 'added' | 'removed';

export interface DiffRow {
  kind: RowKind;
  oldLine: number | null;
  newLine: number | null;
  text: string;
}

export interface DiffHunk {
  header: string;
  rows: DiffRow[];
}

export interface DiffFile {
  /** The path shown (the new one, or the old one when deleted). */
  path: string;
  oldPath: string | null;
  newPath: string | null;
  change: 'created' | 'modified' | 'deleted' | 'renamed';
  added: number;
  removed: number;
  /** git says "Binary files differ": no lines to show. */
  binary: boolean;
  hunks: DiffHunk[];
}

/** One side-by-side line: the old side's row (removed or context), the new side's, or none. */
export interface SplitRow {
  old: DiffRow | null;
  new: DiffRow | null;
}

const devNull = '/dev/null';
const stripPrefix = (name: string | undefined): string | null => {
  if (!name || name === devNull) return null;
  return name.replace(/^[ab]\//, '');
};

/** The files of a diff; undefined when it is not a diff jsdiff can read (shown as plain text). */
export function parseDiff(diff: string): DiffFile[] | undefined {
  if (diff.trim() === '') return [];
  // jsdiff reads `diff --git` headers as noise before `---`; a binary file has no `---` at all,
  // so its path comes from the `diff --git a/x b/x` line.
  const chunks = diff.split(/^(?=diff --git )/m).filter((chunk) => chunk.trim() !== '');
  try {
    const files = chunks.flatMap((chunk) =>
      parsePatch(chunk)
        .map((patch) => toFile(patch, chunk))
        // Text before a header, or not a diff at all: no file and no lines.
        .filter((file) => file.oldPath !== null || file.newPath !== null),
    );
    return files.length > 0 ? files : undefined;
  } catch {
    // A hunk whose line counts do not match its header, say: jsdiff refuses it.
    return undefined;
  }
}

function toFile(patch: ReturnType<typeof parsePatch>[number], chunk: string): DiffFile {
  const gitHeader = /^diff --git a\/(.+?) b\/(.+)$/m.exec(chunk);
  const oldPath = patch.oldFileName ? stripPrefix(patch.oldFileName) : (gitHeader?.[1] ?? null);
  const newPath = patch.newFileName ? stripPrefix(patch.newFileName) : (gitHeader?.[2] ?? null);
  const created = /^new file mode/m.test(chunk) || (oldPath === null && newPath !== null);
  const deleted = /^deleted file mode/m.test(chunk) || (newPath === null && oldPath !== null);
  const change = created
    ? 'created'
    : deleted
      ? 'deleted'
      : oldPath !== newPath
        ? 'renamed'
        : 'modified';
  let added = 0;
  let removed = 0;
  const hunks = patch.hunks.map((hunk) => {
    let oldLine = hunk.oldStart;
    let newLine = hunk.newStart;
    const rows: DiffRow[] = [];
    for (const line of hunk.lines) {
      const marker = line[0];
      const text = line.slice(1);
      if (marker === '+') {
        added++;
        rows.push({ kind: 'added', oldLine: null, newLine: newLine++, text });
      } else if (marker === '-') {
        removed++;
        rows.push({ kind: 'removed', oldLine: oldLine++, newLine: null, text });
      } else if (marker === ' ') {
        rows.push({ kind: 'context', oldLine: oldLine++, newLine: newLine++, text });
      }
      // `\ No newline at end of file` is about the line before it: not a row of its own.
    }
    return {
      header: `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`,
      rows,
    };
  });
  return {
    path: newPath ?? oldPath ?? '(unknown)',
    oldPath,
    newPath,
    change,
    added,
    removed,
    binary: /^Binary files .* differ$/m.test(chunk) || /^GIT binary patch$/m.test(chunk),
    hunks,
  };
}

/** A hunk's rows paired for side by side: each run of removals beside the additions after it. */
export function splitRows(rows: DiffRow[]): SplitRow[] {
  const paired: SplitRow[] = [];
  let removed: DiffRow[] = [];
  let added: DiffRow[] = [];
  const flush = () => {
    for (let pair = 0; pair < Math.max(removed.length, added.length); pair++) {
      paired.push({ old: removed[pair] ?? null, new: added[pair] ?? null });
    }
    removed = [];
    added = [];
  };
  for (const row of rows) {
    if (row.kind === 'context') {
      flush();
      paired.push({ old: row, new: row });
    } else if (row.kind === 'removed') {
      // A removal after additions starts a new run: they are not its replacement.
      if (added.length > 0) flush();
      removed.push(row);
    } else {
      added.push(row);
    }
  }
  flush();
  return paired;
}
