import type { SandboxInfo } from '../../api/schemas.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { useResource } from '../live/use-resource.ts';
import type { PageProps } from '../routes.ts';
import { CreateSandboxForm } from '../sandboxes/create-sandbox-form.tsx';
import { SandboxActions } from '../sandboxes/sandbox-actions.tsx';
import { timeText } from '../sandboxes/time-text.ts';

/**
 * The owner's long-lived sandboxes: status, workspace, when made and last used; create, start,
 * stop, delete. The API streams no sandbox changes (no events for the list), so the list is
 * read again after this page's own actions and on "Refresh", never on a timer.
 */
export default function SandboxesPage(_props: PageProps) {
  const mags = useMags();
  const sandboxes = useResource(() => mags.sandboxes.list());
  const list = sandboxes.data;
  return (
    <section>
      <div class="toolbar">
        <h1>Sandboxes</h1>
        <button type="button" class="quiet" onClick={sandboxes.reload} disabled={sandboxes.loading}>
          {sandboxes.loading ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      <CreateSandboxForm onCreated={sandboxes.reload} />
      {sandboxes.error ? <ErrorView error={sandboxes.error} /> : null}
      {list === undefined ? (
        sandboxes.loading ? (
          <p class="loading">Loading sandboxes…</p>
        ) : null
      ) : list.length === 0 ? (
        <p class="muted">
          No sandboxes yet. Create one above, or <code>mags new NAME</code>.
        </p>
      ) : (
        <div class="table-scroll">
          <table class="sandbox-list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Workspace</th>
                <th scope="col">Created</th>
                <th scope="col">Last active</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((sandbox: SandboxInfo) => (
                <tr key={sandbox.name}>
                  <td>
                    <Link href={`/sandboxes/${encodeURIComponent(sandbox.name)}`}>
                      {sandbox.name}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={sandbox.status} />
                    {sandbox.reason ? <div class="hint">{sandbox.reason}</div> : null}
                  </td>
                  <td>{sandbox.workspace ?? <span class="muted">ephemeral</span>}</td>
                  <td>{timeText(sandbox.createdAt)}</td>
                  <td>{timeText(sandbox.lastActiveAt)}</td>
                  <td>
                    <SandboxActions sandbox={sandbox} onChanged={sandboxes.reload} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
