import type { WorkspaceInfo } from '../../api/schemas.ts';
import type { WorkspaceChange } from '../../sdk/index.ts';
import type { Mags } from '../../sdk/mags.ts';
import { upsert, useLiveList } from '../live/use-live-list.ts';

/** The list as a workspace change leaves it (sorted by name, as the API lists them). */
function applyWorkspaceChange(
  workspaces: WorkspaceInfo[] | undefined,
  change: WorkspaceChange,
): WorkspaceInfo[] {
  if (change.type === 'workspaces') return change.workspaces;
  if (change.type === 'deleted') {
    return (workspaces ?? []).filter((workspace) => workspace.name !== change.name);
  }
  return upsert(
    workspaces ?? [],
    change.workspace,
    (workspace) => workspace.name,
    (all, workspace) => [...all, workspace].sort((a, b) => (a.name < b.name ? -1 : 1)),
  );
}

/**
 * The owner's workspaces followed live on one stream (`workspaces.follow`), in the shape of a
 * read (`data`, `error`, `loading`) so the pages' markup stays as it was.
 */
export function useLiveWorkspaces(mags: Mags) {
  const live = useLiveList((signal) => mags.workspaces.follow({ signal }), applyWorkspaceChange, [
    mags,
  ]);
  return { data: live.items, error: live.error, loading: live.items === undefined };
}
