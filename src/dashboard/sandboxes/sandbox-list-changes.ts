import type { SandboxInfo } from '../../api/schemas.ts';
import type { SandboxChange } from '../../sdk/index.ts';
import { upsert } from '../live/use-live-list.ts';

const byName = (left: SandboxInfo, right: SandboxInfo) =>
  left.name < right.name ? -1 : left.name > right.name ? 1 : 0;

/** Puts a sandbox as it is now into the list (sorted by name, as the API lists them). */
export function withSandbox(list: SandboxInfo[], sandbox: SandboxInfo): SandboxInfo[] {
  return upsert(
    list,
    sandbox,
    (each) => each.name,
    (items, item) => [...items, item].sort(byName),
  );
}

/** Folds one change of `sandboxes.follow` into the list. */
export function applySandboxChange(
  list: SandboxInfo[] | undefined,
  change: SandboxChange,
): SandboxInfo[] {
  if (change.type === 'sandboxes') return change.sandboxes;
  if (change.type === 'deleted') return (list ?? []).filter((each) => each.name !== change.name);
  return withSandbox(list ?? [], change.sandbox);
}
