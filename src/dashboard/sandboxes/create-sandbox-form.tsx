import { useState } from 'preact/hooks';
import type { SandboxInfo } from '../../api/schemas.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';

/** A new long-lived sandbox (`mags new`): its name, the workspace it writes to, network or not. */
export function CreateSandboxForm(props: { onCreated: (sandbox: SandboxInfo) => void }) {
  const mags = useMags();
  const [name, setName] = useState('');
  const [workspace, setWorkspace] = useState('');
  const [network, setNetwork] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  return (
    <form
      class="card create-sandbox"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(undefined);
        try {
          const created = await mags.sandboxes.create({
            name: name.trim(),
            ...(workspace.trim() ? { workspace: workspace.trim() } : {}),
            network,
          });
          setName('');
          setWorkspace('');
          setNetwork(false);
          props.onCreated(created);
        } catch (caught) {
          setError(caught);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>New sandbox</h2>
      <div class="create-sandbox-fields">
        <div>
          <label for="sandbox-name">Name</label>
          <input
            id="sandbox-name"
            required
            autocomplete="off"
            spellcheck={false}
            placeholder="e.g. dev"
            value={name}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </div>
        <div>
          <label for="sandbox-workspace">Workspace</label>
          <input
            id="sandbox-workspace"
            autocomplete="off"
            spellcheck={false}
            placeholder="same as the name"
            aria-describedby="sandbox-workspace-hint"
            value={workspace}
            onInput={(event) => setWorkspace(event.currentTarget.value)}
          />
        </div>
        <label class="checkbox">
          <input
            type="checkbox"
            checked={network}
            onChange={(event) => setNetwork(event.currentTarget.checked)}
          />
          Network (egress only)
        </label>
        <button type="submit" disabled={busy || name.trim() === ''}>
          {busy ? 'Creating…' : 'Create'}
        </button>
      </div>
      <p class="hint" id="sandbox-workspace-hint">
        The workspace keeps its files when the sandbox stops; a new name makes a new workspace.
      </p>
      {error ? <ErrorView error={error} title="Not created" /> : null}
    </form>
  );
}
