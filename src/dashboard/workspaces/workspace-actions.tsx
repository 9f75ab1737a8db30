import { useState } from 'preact/hooks';
import type { SyncResult } from '../../api/schemas.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { formatBytes } from '../format/format-bytes.ts';
import { navigate } from '../router.ts';

type Action<T> =
  | { state: 'idle' }
  | { state: 'busy' }
  | { state: 'done'; result: T }
  | { state: 'failed'; error: unknown };

/** Runs one request at a time, keeping its outcome to show. */
function useAction<T>() {
  const [action, setAction] = useState<Action<T>>({ state: 'idle' });
  const run = async (request: () => Promise<T>) => {
    setAction({ state: 'busy' });
    try {
      setAction({ state: 'done', result: await request() });
    } catch (error) {
      setAction({ state: 'failed', error });
    }
  };
  return [action, run, () => setAction({ state: 'idle' })] as const;
}

/** Sync now: a new version in object storage, or none when nothing changed. */
export function SyncButton(props: { name: string; onSynced: () => void }) {
  const mags = useMags();
  const [action, run] = useAction<SyncResult>();
  return (
    <div class="workspace-action">
      <button
        type="button"
        disabled={action.state === 'busy'}
        onClick={() =>
          run(async () => {
            const result = await mags.workspaces.sync(props.name);
            props.onSynced();
            return result;
          })
        }
      >
        {action.state === 'busy' ? 'Syncing…' : 'Sync now'}
      </button>
      <p role="status" class="hint">
        {action.state === 'busy' ? `Uploading ${props.name} to object storage…` : null}
        {action.state === 'done'
          ? action.result.committed
            ? `Synced: version ${action.result.version} (${formatBytes(action.result.uploadedBytes)} uploaded of ${formatBytes(action.result.totalBytes)}).`
            : `Unchanged since version ${action.result.version}: nothing uploaded.`
          : null}
      </p>
      {action.state === 'failed' ? <ErrorView error={action.error} title="Sync failed" /> : null}
    </div>
  );
}

/** Fork: a new workspace that starts as a copy of this one; opens it when made. */
export function ForkForm(props: { name: string }) {
  const mags = useMags();
  const [target, setTarget] = useState('');
  const [action, run] = useAction<string>();
  return (
    <form
      class="workspace-action"
      onSubmit={(event) => {
        event.preventDefault();
        const name = target.trim();
        void run(async () => {
          await mags.workspaces.fork(props.name, name);
          navigate(`/workspaces/${encodeURIComponent(name)}`);
          return name;
        });
      }}
    >
      <label for="fork-name">Fork as</label>
      <div class="toolbar">
        <input
          id="fork-name"
          value={target}
          required
          placeholder={`${props.name}-try-1`}
          onInput={(event) => setTarget(event.currentTarget.value)}
        />
        <button type="submit" disabled={action.state === 'busy' || target.trim() === ''}>
          {action.state === 'busy' ? 'Forking…' : 'Fork'}
        </button>
      </div>
      {action.state === 'failed' ? <ErrorView error={action.error} title="Fork failed" /> : null}
    </form>
  );
}

/** Delete, after an explicit second click; the API refuses while the workspace is in use. */
export function DeleteControl(props: { name: string }) {
  const mags = useMags();
  const [confirming, setConfirming] = useState(false);
  const [action, run] = useAction<void>();
  if (!confirming) {
    return (
      <div class="workspace-action">
        <button type="button" class="quiet" onClick={() => setConfirming(true)}>
          Delete…
        </button>
      </div>
    );
  }
  return (
    <fieldset class="workspace-action card">
      <legend>Confirm deletion</legend>
      <p>
        Delete <strong>{props.name}</strong> here and all its stored versions? This cannot be
        undone.
      </p>
      <div class="toolbar">
        <button
          type="button"
          class="danger"
          disabled={action.state === 'busy'}
          onClick={() =>
            run(async () => {
              await mags.workspaces.delete(props.name);
              navigate('/workspaces');
            })
          }
        >
          {action.state === 'busy' ? 'Deleting…' : `Delete ${props.name}`}
        </button>
        <button type="button" class="quiet" onClick={() => setConfirming(false)}>
          Cancel
        </button>
      </div>
      {action.state === 'failed' ? <ErrorView error={action.error} title="Not deleted" /> : null}
    </fieldset>
  );
}
