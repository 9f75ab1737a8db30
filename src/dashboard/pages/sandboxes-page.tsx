import type { SandboxInfo } from '../../api/schemas.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import { formatTime } from '../format/format-time.ts';
import { useLiveList } from '../live/use-live-list.ts';
import type { PageProps } from '../routes.ts';
import { CreateSandboxForm } from '../sandboxes/create-sandbox-form.tsx';
import { SandboxActions } from '../sandboxes/sandbox-actions.tsx';
import { applySandboxChange, withSandbox } from '../sandboxes/sandbox-list-changes.ts';

/**
 * The owner's long-lived sandboxes: status, workspace, when made and last used; create, start,
 * stop, delete. Live: one stream (`sandboxes.follow`) tells every change, whoever made it (the
 * CLI, the SDK, a sleep when idle); the page's own actions show at once from what they return.
 */
export default function SandboxesPage(_props: PageProps) {
  usePageTitle('Sandboxes');
  const mags = useMags();
  const sandboxes = useLiveList((signal) => mags.sandboxes.follow({ signal }), applySandboxChange, [
    mags,
  ]);
  const list = sandboxes.items;
  const changed = (sandbox: SandboxInfo) => sandboxes.apply((items) => withSandbox(items, sandbox));
  return (
    <section>
      <div class="page-heading">
        <h1>Sandboxes</h1>
      </div>
      <CreateSandboxForm onCreated={changed} />
      {sandboxes.error ? <ErrorView error={sandboxes.error} /> : null}
      {list === undefined ? (
        sandboxes.error ? null : (
          <p class="loading">Loading sandboxes…</p>
        )
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
                  <td>{formatTime(sandbox.createdAt)}</td>
                  <td>{formatTime(sandbox.lastActiveAt)}</td>
                  <td>
                    <SandboxActions
                      sandbox={sandbox}
                      onChanged={(next) =>
                        next
                          ? changed(next)
                          : sandboxes.apply((items) =>
                              items.filter((each) => each.name !== sandbox.name),
                            )
                      }
                    />
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
