import { useState } from 'preact/hooks';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { formatBytes } from '../format/format-bytes.ts';
import { formatTime } from '../format/format-time.ts';
import { useResource } from '../live/use-resource.ts';
import { joinPath, nameText, parentPath } from './sandbox-paths.ts';

/**
 * The sandbox's files: a directory's entries (`files.list`, read in the sandbox without making
 * a job; into a directory by its name, up by `..`), a file
 * downloaded through the API with the token in its header and handed to the browser as a blob:
 * URL (no URL ever carries the token), and uploads into the directory shown.
 */
export function FileBrowser(props: { sandbox: string; start?: string }) {
  const mags = useMags();
  const [directory, setDirectory] = useState(props.start ?? '/workspace');
  const entries = useResource(
    () => mags.sandboxes.files.list(props.sandbox, directory),
    [props.sandbox, directory],
  );
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState('');

  const download = async (name: string) => {
    setBusy(name);
    setError(undefined);
    try {
      const bytes = await mags.sandboxes.files.read(props.sandbox, joinPath(directory, name));
      const url = URL.createObjectURL(
        new Blob([bytes as BlobPart], { type: 'application/octet-stream' }),
      );
      const link = document.createElement('a');
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      // The browser has taken the bytes once the click is handled; a later tick frees them.
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      setNotice(`Downloaded ${name}.`);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  };

  const upload = async (files: FileList | null) => {
    setError(undefined);
    for (const file of Array.from(files ?? [])) {
      setBusy(file.name);
      try {
        const bytes = new Uint8Array(await file.arrayBuffer());
        await mags.sandboxes.files.write(props.sandbox, joinPath(directory, file.name), bytes);
        setNotice(`Uploaded ${file.name} to ${directory}.`);
      } catch (caught) {
        setError(caught);
        break;
      } finally {
        setBusy(null);
      }
    }
    entries.reload();
  };

  return (
    <div class="file-browser">
      <div class="toolbar">
        <form
          class="file-path"
          onSubmit={(event) => {
            event.preventDefault();
            const value = new FormData(event.currentTarget).get('directory');
            if (typeof value === 'string' && value.startsWith('/')) setDirectory(value);
          }}
        >
          <label for="file-directory">Directory</label>
          <input
            id="file-directory"
            name="directory"
            key={directory}
            defaultValue={directory}
            spellcheck={false}
            autocomplete="off"
          />
          <button type="submit" class="quiet">
            Open
          </button>
        </form>
        <label class="button quiet file-upload">
          Upload files
          <input
            type="file"
            multiple
            class="visually-hidden"
            onChange={(event) => {
              const input = event.currentTarget;
              void upload(input.files).then(() => {
                input.value = '';
              });
            }}
          />
        </label>
        <button type="button" class="quiet" onClick={entries.reload}>
          Refresh
        </button>
      </div>
      <p class="visually-hidden" role="status">
        {busy ? `Working on ${busy}…` : notice}
      </p>
      {error ? <ErrorView error={error} /> : null}
      {entries.error && !entries.loading ? <ErrorView error={entries.error} /> : null}
      <div class="table-scroll">
        <table class="file-list">
          <caption class="visually-hidden">Files in {directory}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col" class="numeric">
                Size
              </th>
              <th scope="col">Modified</th>
            </tr>
          </thead>
          <tbody>
            {directory !== '/' ? (
              <tr>
                <td>
                  <button
                    type="button"
                    class="link-button"
                    aria-label="Up to the parent directory"
                    onClick={() => setDirectory(parentPath(directory))}
                  >
                    ..
                  </button>
                </td>
                <td>directory</td>
                <td />
                <td />
              </tr>
            ) : null}
            {(entries.loading ? [] : (entries.data?.entries ?? [])).map((entry) => (
              <tr key={entry.name}>
                <td>
                  {entry.type === 'directory' ? (
                    <button
                      type="button"
                      class="link-button"
                      onClick={() => setDirectory(joinPath(directory, entry.name))}
                    >
                      {nameText(entry.name)}/
                    </button>
                  ) : entry.type === 'file' ? (
                    <button
                      type="button"
                      class="link-button"
                      title="Download"
                      aria-label={`Download ${nameText(entry.name)}`}
                      disabled={busy !== null}
                      onClick={() => download(entry.name)}
                    >
                      {nameText(entry.name)}
                    </button>
                  ) : (
                    nameText(entry.name)
                  )}
                </td>
                <td>
                  {entry.type === 'symlink' ? (
                    <span class="file-link-target">link to {nameText(entry.target ?? '')}</span>
                  ) : (
                    entry.type
                  )}
                </td>
                <td class="numeric">{entry.type === 'file' ? formatBytes(entry.sizeBytes) : ''}</td>
                <td>{entry.modifiedAt ? formatTime(entry.modifiedAt) : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {entries.loading ? <p class="loading">Listing {directory}…</p> : null}
      {!entries.loading && entries.data?.truncated ? (
        <p class="muted">
          Only the first {entries.data.entries.length.toLocaleString()} entries are shown: open a
          directory further down, or list it from the terminal.
        </p>
      ) : null}
      {!entries.loading && entries.data?.entries.length === 0 ? (
        <p class="muted">Empty. Upload files here, or write them from the terminal.</p>
      ) : null}
    </div>
  );
}
