import type { Evidence } from '../../api/tickets.ts';

/** The changed files with their counts; choosing one scrolls its diff into view. */
export function ChangedFiles(props: {
  files: Evidence['diffStat']['files'];
  fileId: (path: string) => string;
}) {
  if (props.files.length === 0) return null;
  return (
    <nav class="changed-files" aria-label="Changed files">
      <ul>
        {props.files.map((file) => (
          <li key={file.path}>
            <button
              type="button"
              class="quiet changed-file"
              onClick={() => {
                const target = document.getElementById(props.fileId(file.path));
                target?.scrollIntoView({ block: 'start' });
                target?.focus({ preventScroll: true });
              }}
            >
              <span class="changed-file-path">{file.path}</span>
              {file.binary ? (
                <span class="muted">binary</span>
              ) : (
                <span class="diff-counts">
                  <span class="diff-count-added">+{file.added ?? 0}</span>{' '}
                  <span class="diff-count-removed">-{file.removed ?? 0}</span>
                </span>
              )}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
