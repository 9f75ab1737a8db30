import type { SandboxInfo } from '../../api/schemas.ts';
import { useMags } from '../client-context.ts';
import { ConfirmButton } from '../components/confirm-button.tsx';
import { ErrorView } from '../components/error-view.tsx';
import { useAction } from '../components/use-action.ts';

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
  const { name, status, workspace } = props.sandbox;
  const action = useAction();
  const act = (verb: string, request: () => Promise<SandboxInfo | null>) =>
    action.run(async () => props.onChanged(await request()), verb);
  return (
    <div class="sandbox-actions">
      {status === 'stopped' ? (
        <button
          type="button"
          class="quiet"
          disabled={action.busy}
          aria-label={`Start ${name}`}
          onClick={() => act('start', () => mags.sandboxes.start(name))}
        >
          {action.running === 'start' ? 'Starting…' : 'Start'}
        </button>
      ) : (
        <button
          type="button"
          class="quiet"
          disabled={action.busy}
          aria-label={`Stop ${name}`}
          onClick={() => act('stop', () => mags.sandboxes.stop(name))}
        >
          {action.running === 'stop' ? 'Stopping…' : 'Stop'}
        </button>
      )}
      <ConfirmButton
        label="Delete"
        name={`Delete ${name}`}
        class="quiet"
        danger
        disabled={action.busy}
        consequence={
          workspace
            ? `The sandbox ${name} stops and goes; its workspace ${workspace} stays, with its files.`
            : `The sandbox ${name} stops and goes.`
        }
        confirmLabel={`Delete ${name}, keep its workspace`}
        busyLabel="Deleting…"
        errorTitle="Not deleted"
        onConfirm={async () => {
          await mags.sandboxes.delete(name);
          props.onChanged(null);
        }}
      />
      {action.error !== undefined ? <ErrorView error={action.error} /> : null}
    </div>
  );
}
