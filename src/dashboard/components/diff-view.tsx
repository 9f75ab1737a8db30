import { useMemo } from 'preact/hooks';
import { DiffFileView } from '../diff/diff-file-view.tsx';
import { parseDiff } from '../diff/parse-diff.ts';
import { useHighlighter } from '../diff/use-highlighter.ts';
import { useNarrowScreen } from '../diff/use-narrow-screen.ts';

/**
 * A unified diff (git's format) shown per file, lines marked added or removed, as text nodes.
 * `split` shows old and new side by side (unified on a phone: it does not fit). Syntax colours
 * arrive after the first render, from a chunk loaded on demand. `fileId(path)` gives each
 * file's section an id, for a file list to jump to.
 */
export function DiffView(props: {
  diff: string;
  mode?: 'unified' | 'split';
  fileId?: (path: string) => string;
}) {
  const files = useMemo(() => parseDiff(props.diff), [props.diff]);
  const narrow = useNarrowScreen();
  const highlighter = useHighlighter(files !== undefined && files.length > 0);
  const mode = props.mode === 'split' && !narrow ? 'split' : 'unified';
  if (files === undefined) return <pre class="diff">{props.diff}</pre>;
  if (files.length === 0) return <p class="muted">No changes.</p>;
  return (
    <div class="diff-view">
      {files.map((file, index) => (
        <DiffFileView
          key={`${index}:${file.path}`}
          file={file}
          mode={mode}
          id={props.fileId?.(file.path)}
          highlighter={highlighter}
        />
      ))}
    </div>
  );
}
