import type { Root } from 'hast';
import type { ComponentChildren } from 'preact';
import { useMemo } from 'preact/hooks';
import { hastChildren } from './hast-children.tsx';
import { type DiffFile, type DiffRow, splitRows } from './parse-diff.ts';
import type { useHighlighter } from './use-highlighter.ts';

/** Above this many rows a file is shown plain: highlighting it would stall the page. */
const highlightRowLimit = 3000;

const markers = { added: '+', removed: '-', context: ' ' } as const;
const rowNames = { added: 'added', removed: 'removed', context: 'unchanged' } as const;

/** One file of a diff: its header (path, change, counts) and its hunks, unified or side by side. */
export function DiffFileView(props: {
  file: DiffFile;
  mode: 'unified' | 'split';
  id?: string;
  highlighter: ReturnType<typeof useHighlighter>;
}) {
  const { file, mode, highlighter } = props;
  const highlighted = useMemo(() => {
    const language = highlighter?.languageFor(file.path);
    const rows = file.hunks.flatMap((hunk) => hunk.rows);
    if (!highlighter || !language || rows.length > highlightRowLimit) return undefined;
    const trees = highlighter.highlightLines(
      language,
      rows.map((row) => row.text),
    );
    return new Map<DiffRow, Root>(rows.map((row, index) => [row, trees[index] as Root]));
  }, [file, highlighter]);
  const code = (row: DiffRow): ComponentChildren => {
    const tree = highlighted?.get(row);
    return tree ? hastChildren(tree) : row.text;
  };
  return (
    <section class="diff-file" id={props.id} aria-label={`Changes to ${file.path}`} tabIndex={-1}>
      <header class="diff-file-header">
        <span class="diff-path">{file.path}</span>
        {file.change === 'renamed' ? (
          <span class="muted"> (renamed from {file.oldPath})</span>
        ) : file.change !== 'modified' ? (
          <span class="muted"> ({file.change})</span>
        ) : null}
        <span class="diff-counts">
          <span class="diff-count-added">+{file.added}</span>{' '}
          <span class="diff-count-removed">-{file.removed}</span>
        </span>
      </header>
      {file.binary ? (
        <p class="muted diff-note">Binary file: not shown.</p>
      ) : file.hunks.length === 0 ? (
        <p class="muted diff-note">No line changes (mode or an empty file).</p>
      ) : (
        <div class="diff-scroll">
          <table class={`diff-table diff-${mode}`}>
            {file.hunks.map((hunk) => (
              <tbody key={hunk.header}>
                <tr class="diff-hunk">
                  <td colSpan={mode === 'split' ? 6 : 4}>{hunk.header}</td>
                </tr>
                {mode === 'unified'
                  ? hunk.rows.map((row, index) => (
                      <tr key={index} class={`diff-row diff-row-${row.kind}`}>
                        <td class="diff-line-number">{row.oldLine ?? ''}</td>
                        <td class="diff-line-number">{row.newLine ?? ''}</td>
                        <td class="diff-marker" title={rowNames[row.kind]}>
                          {markers[row.kind]}
                        </td>
                        <td class="diff-code">{code(row)}</td>
                      </tr>
                    ))
                  : splitRows(hunk.rows).map((pair, index) => (
                      <tr key={index} class="diff-row">
                        <SplitSide row={pair.old} line={pair.old?.oldLine} code={code} />
                        <SplitSide row={pair.new} line={pair.new?.newLine} code={code} />
                      </tr>
                    ))}
              </tbody>
            ))}
          </table>
        </div>
      )}
    </section>
  );
}

function SplitSide(props: {
  row: DiffRow | null;
  line: number | null | undefined;
  code: (row: DiffRow) => ComponentChildren;
}) {
  const { row } = props;
  if (!row) {
    return <td class="diff-empty" colSpan={3} />;
  }
  return (
    <>
      <td class={`diff-line-number diff-side-${row.kind}`}>{props.line ?? ''}</td>
      <td class={`diff-marker diff-side-${row.kind}`} title={rowNames[row.kind]}>
        {markers[row.kind]}
      </td>
      <td class={`diff-code diff-side-${row.kind}`}>{props.code(row)}</td>
    </>
  );
}
