import { useState } from 'preact/hooks';
import type { SyncResult } from '../../api/schemas.ts';
import { useMags } from '../client-context.ts';
import { ConfirmButton } from '../components/confirm-button.tsx';
import { ErrorView } from '../components/error-view.tsx';
import { useAction } from '../components/use-action.ts';
import { formatBytes } from '../format/format-bytes.ts';
import { navigate } from '../router.ts';

/**
 * Sync now: a new version in object storage, or none when nothing changed. The page's workspace
 * stream brings the new version (and with it a read of the versions): nothing to tell it here.
 */
export function SyncButton(props: { name: string }) {
  const mags = useMags();
  const action = useAction<SyncResult>();
  const { state } = action;
  return (
    <div class="workspace-action">
      <button
        type="button"
        disabled={action.busy}
        onClick={() => action.run(() => mags.workspaces.sync(props.name))}
      >
        {action.busy ? 'Syncing…' : 'Sync now'}
      </button>
      <p role="status" class="hint">
        {action.busy ? `Uploading ${props.name} to object storage…` : null}
        {state.state === 'done'
          ? state.result.committed
            ? `Synced: version ${state.result.version} (${formatBytes(state.result.uploadedBytes)} uploaded of ${formatBytes(state.result.totalBytes)}).`
            : `Unchanged since version ${state.result.version}: nothing uploaded.`
          : null}
      </p>
      {action.error !== undefined ? <ErrorView error={action.error} title="Sync failed" /> : null}
    </div>
  );
}

/** Fork: a new workspace that starts as a copy of this one; opens it when made. */
export function ForkForm(props: { name: string }) {
  const mags = useMags();
  const [target, setTarget] = useState('');
  const action = useAction<string>();
  return (
    <form
      class="workspace-action"
      onSubmit={(event) => {
        event.preventDefault();
        const name = target.trim();
        void action.run(async () => {
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
        <button type="submit" disabled={action.busy || target.trim() === ''}>
          {action.busy ? 'Forking…' : 'Fork'}
        </button>
      </div>
      {action.error !== undefined ? <ErrorView error={action.error} title="Fork failed" /> : null}
    </form>
  );
}

/** Delete, after an explicit second click; the API refuses while the workspace is in use. */
export function DeleteControl(props: { name: string }) {
  const mags = useMags();
  return (
    <div class="workspace-action">
      <ConfirmButton
        label="Delete…"
        class="quiet"
        danger
        consequence={
          <>
            Delete <strong>{props.name}</strong> here and all its stored versions? This cannot be
            undone.
          </>
        }
        confirmLabel={`Delete ${props.name}`}
        busyLabel="Deleting…"
        errorTitle="Not deleted"
        onConfirm={async () => {
          await mags.workspaces.delete(props.name);
          navigate('/workspaces');
        }}
      />
    </div>
  );
}
