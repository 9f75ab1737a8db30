import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import { formatBytes } from '../format/format-bytes.ts';
import { formatTimeAgo } from '../format/format-time.ts';
import type { PageProps } from '../routes.ts';
import { useLiveWorkspaces } from '../workspaces/use-live-workspaces.ts';

/**
 * The owner's workspaces: size here, whether a version is in object storage, last use; followed
 * live (`workspaces.follow`), so a run, sync, fork or delete shows without a reload.
 */
export default function WorkspacesPage(_props: PageProps) {
  usePageTitle('Workspaces');
  const workspaces = useLiveWorkspaces(useMags());
  return (
    <section class="workspaces">
      <div class="page-heading">
        <h1>Workspaces</h1>
      </div>
      {workspaces.error ? <ErrorView error={workspaces.error} /> : null}
      {workspaces.data?.length === 0 ? (
        <p class="hint">
          No workspaces yet. A run makes one: <code>mags run -w NAME 'command'</code>, or a sandbox:{' '}
          <code>mags new NAME</code>.
        </p>
      ) : null}
      {workspaces.data && workspaces.data.length > 0 ? (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">Synced</th>
                <th scope="col">Last used</th>
              </tr>
            </thead>
            <tbody>
              {workspaces.data.map((workspace) => (
                <tr key={workspace.name} data-workspace={workspace.name}>
                  <td>
                    <Link href={`/workspaces/${encodeURIComponent(workspace.name)}`}>
                      {workspace.name}
                    </Link>
                    {workspace.forkedFrom ? (
                      <span class="hint"> fork of {workspace.forkedFrom}</span>
                    ) : null}
                  </td>
                  <td>{formatBytes(workspace.sizeBytes)}</td>
                  <td>
                    {workspace.remoteVersion === null
                      ? 'local only'
                      : `version ${workspace.remoteVersion}`}
                  </td>
                  <td title={workspace.lastUsedAt}>{formatTimeAgo(workspace.lastUsedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {workspaces.loading && !workspaces.data ? <p class="loading">Loading…</p> : null}
    </section>
  );
}
