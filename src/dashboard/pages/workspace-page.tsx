import { useEffect, useRef } from 'preact/hooks';
import { useMags } from '../client-context.ts';
import { Breadcrumbs } from '../components/breadcrumbs.tsx';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import { formatBytes } from '../format/format-bytes.ts';
import { formatTimeAgo } from '../format/format-time.ts';
import { useResource } from '../live/use-resource.ts';
import type { PageProps } from '../routes.ts';
import { useLiveWorkspaces } from '../workspaces/use-live-workspaces.ts';
import { DeleteControl, ForkForm, SyncButton } from '../workspaces/workspace-actions.tsx';

/**
 * One workspace: its figures, its versions in object storage, and sync, fork, delete. The
 * figures follow the owner's workspaces live (`workspaces.follow`); the versions are read again
 * when its synced version changes (a sync from here, the CLI or a run).
 */
export default function WorkspacePage(props: PageProps) {
  const name = props.params[0] ?? '';
  usePageTitle(`Workspace ${name}`);
  const mags = useMags();
  const workspaces = useLiveWorkspaces(mags);
  const versions = useResource(() => mags.workspaces.versions(name), [name]);
  const workspace = workspaces.data?.find((item) => item.name === name);
  const shownVersion = useRef<number | null | undefined>(undefined);
  const remoteVersion = workspace?.remoteVersion;
  useEffect(() => {
    if (remoteVersion === undefined) return;
    if (shownVersion.current !== undefined && shownVersion.current !== remoteVersion) {
      versions.reload();
    }
    shownVersion.current = remoteVersion;
  }, [remoteVersion]);
  return (
    <section class="workspace">
      <Breadcrumbs trail={[{ title: 'Workspaces', href: '/workspaces' }]} current={name} />
      <h1>{name}</h1>
      {workspaces.error ? <ErrorView error={workspaces.error} /> : null}
      {workspaces.data && !workspace ? (
        <p class="hint">
          No workspace {name} on this server (it may have been deleted).{' '}
          <Link href="/workspaces">See all workspaces</Link>.
        </p>
      ) : null}
      {workspace ? (
        <>
          <dl class="facts">
            <dt>Size</dt>
            <dd>{formatBytes(workspace.sizeBytes)}</dd>
            <dt>Disk</dt>
            <dd>
              {workspace.diskBytes === null ? 'no disk limit' : formatBytes(workspace.diskBytes)}
            </dd>
            <dt>Synced</dt>
            <dd>
              {workspace.remoteVersion === null
                ? 'local only'
                : `version ${workspace.remoteVersion}`}
            </dd>
            <dt>Created</dt>
            <dd title={workspace.createdAt}>{formatTimeAgo(workspace.createdAt)}</dd>
            <dt>Last used</dt>
            <dd title={workspace.lastUsedAt}>{formatTimeAgo(workspace.lastUsedAt)}</dd>
            {workspace.forkedFrom ? (
              <>
                <dt>Forked from</dt>
                <dd>
                  <Link href={`/workspaces/${encodeURIComponent(workspace.forkedFrom)}`}>
                    {workspace.forkedFrom}
                  </Link>
                </dd>
              </>
            ) : null}
          </dl>
          <div class="workspace-actions">
            <SyncButton name={name} />
            <ForkForm name={name} />
            <DeleteControl name={name} />
          </div>
          <h2>Versions</h2>
          {versions.error ? <ErrorView error={versions.error} /> : null}
          {versions.data?.length === 0 ? (
            <p class="hint">
              No versions in object storage yet. Sync now, or run with{' '}
              <code>mags run -w {name} -p '…'</code>.
            </p>
          ) : null}
          {versions.data && versions.data.length > 0 ? (
            <>
              <div class="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Version</th>
                      <th scope="col">Committed</th>
                      <th scope="col">Size</th>
                    </tr>
                  </thead>
                  <tbody>
                    {versions.data.map((version) => (
                      <tr key={version.version}>
                        <td>{version.version}</td>
                        <td title={version.committedAt}>{formatTimeAgo(version.committedAt)}</td>
                        <td>{formatBytes(version.sizeBytes)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <p class="hint">
                To run on a version, name it: <code>mags run -w {name}@N 'command'</code> restores
                version N first.
              </p>
            </>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
