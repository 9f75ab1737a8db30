import { useState } from 'preact/hooks';
import type { SandboxInfo } from '../../api/schemas.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';

/**
 * Start, stop and delete, as the API offers them. `onChanged` gets the sandbox as it is after
 * the action (null once deleted): the API has no stream of sandbox changes, so the page shows
 * what its own actions return.
 */
export function SandboxActions(props: {
  sandbox: SandboxInfo;
  onChanged: (sandbox: SandboxInfo | null) => void;
}) {
  const mags = useMags();
  const { name, status } = props.sandbox;
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState(false);
  const act = async (verb: string, action: () => Promise<SandboxInfo | null>) => {
    setBusy(verb);
    setError(undefined);
    try {
      props.onChanged(await action());
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  };
  return (
    <div class="sandbox-actions">
      {status === 'stopped' ? (
        <button
          type="button"
          class="quiet"
          disabled={busy !== null}
          aria-label={`Start ${name}`}
          onClick={() => act('start', () => mags.sandboxes.start(name))}
        >
          {busy === 'start' ? 'Starting…' : 'Start'}
        </button>
      ) : (
        <button
          type="button"
          class="quiet"
          disabled={busy !== null}
          aria-label={`Stop ${name}`}
          onClick={() => act('stop', () => mags.sandboxes.stop(name))}
        >
          {busy === 'stop' ? 'Stopping…' : 'Stop'}
        </button>
      )}
      {confirming ? (
        <>
          <button
            type="button"
            class="danger"
            disabled={busy !== null}
            onClick={() =>
              act('delete', async () => {
                await mags.sandboxes.delete(name);
                return null;
              })
            }
          >
            {busy === 'delete' ? 'Deleting…' : `Delete ${name}, keep its workspace`}
          </button>
          <button type="button" class="quiet" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </>
      ) : (
        // Two steps instead of confirm(): no browser dialog, and the second says what stays.
        <button
          type="button"
          class="quiet"
          disabled={busy !== null}
          aria-label={`Delete ${name}`}
          onClick={() => setConfirming(true)}
        >
          Delete
        </button>
      )}
      {error ? <ErrorView error={error} /> : null}
    </div>
  );
}
