import { formatMiB } from '../config/byte-sizes.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { InvalidInputError, QuotaExceededError } from '../errors/mags-error.ts';
import { ownerWorkspaceName, ownsStorageName } from '../workspaces/owner-workspace.ts';

/** What a server lets a client ask of workspace disks (`mags server --max-disk`, `--owner-disk-quota`). */
export interface DiskLimits {
  /** The largest `diskMiB` one request may give (default 100 GiB). */
  maxDiskMiB: number;
  /** The disks of all of one owner's workspaces on this host together (default 1 TiB: a hundred of the default size). */
  ownerDiskQuotaMiB: number;
}

export const defaultDiskLimits: DiskLimits = {
  maxDiskMiB: 100 * 1024,
  ownerDiskQuotaMiB: 1024 * 1024,
};

type DiskRequest = { workspace: string | undefined; diskMiB: number | undefined };

/** Per context (one server's workspaces), per owner: the tail of their disk checks in progress. */
const ownerTails = new WeakMap<MagsContext, Map<string, Promise<unknown>>>();

/**
 * Runs `work` after the owner's earlier checks in this process are done, and before later ones:
 * what a check counts cannot change under it through another request of the same owner that
 * holds this turn too (a fork's check and its new disk, `checkAndMakeDisk`).
 */
async function inOwnersTurn<Result>(
  context: MagsContext,
  owner: string,
  work: () => Promise<Result>,
): Promise<Result> {
  const tails = ownerTails.get(context) ?? new Map<string, Promise<unknown>>();
  ownerTails.set(context, tails);
  const before = tails.get(owner) ?? Promise.resolve();
  const turn = before.catch(() => {}).then(work);
  const tail = turn.catch(() => {});
  tails.set(owner, tail);
  try {
    return await turn;
  } finally {
    if (tails.get(owner) === tail) tails.delete(owner);
  }
}

/**
 * Refuses a request whose disk is over the server's maximum (400), or that would make a new
 * workspace, or grow one, past the owner's quota: the sum of the sizes of their workspaces' disks
 * (409 `owner_disk_quota`). Sizes, not use: a disk's size is what it may take of the host. Checked
 * when the request arrives, in the owner's turn (after a fork's disk in progress is made); a run's
 * disk is made later, when its sandbox starts, so runs of one owner arriving at the same moment
 * may together pass the quota by one request's disk.
 */
export function checkDiskRequest(
  context: MagsContext,
  limits: DiskLimits,
  owner: string,
  request: DiskRequest,
): Promise<void> {
  return inOwnersTurn(context, owner, () => checkInTurn(context, limits, owner, request));
}

/**
 * Checks a request and makes its disk (`make`) in one turn of the owner's: two forks of one
 * owner at the same moment cannot both pass a quota that has room for one.
 */
export function checkAndMakeDisk<Result>(
  context: MagsContext,
  limits: DiskLimits,
  owner: string,
  request: DiskRequest,
  make: () => Promise<Result>,
): Promise<Result> {
  return inOwnersTurn(context, owner, async () => {
    await checkInTurn(context, limits, owner, request);
    return make();
  });
}

async function checkInTurn(
  context: MagsContext,
  limits: DiskLimits,
  owner: string,
  request: DiskRequest,
): Promise<void> {
  const { diskMiB } = request;
  if (diskMiB !== undefined && diskMiB > limits.maxDiskMiB) {
    throw new InvalidInputError(
      `A disk of ${formatMiB(diskMiB)} is more than this server allows (${formatMiB(limits.maxDiskMiB)}).`,
      {
        code: 'disk_too_large',
        hint: `Ask for --disk ${formatMiB(limits.maxDiskMiB)} or less (the server's --max-disk).`,
      },
    );
  }
  if (request.workspace === undefined) return;
  const internal = ownerWorkspaceName(owner, request.workspace);
  const existing = await context.workspaces.get(internal);
  const currentMiB = existing?.diskMiB;
  const wantedMiB = existing
    ? (diskMiB ?? currentMiB)
    : (diskMiB ?? context.workspaces.defaultDiskMiB);
  if (wantedMiB === undefined || currentMiB === wantedMiB || (currentMiB ?? 0) > wantedMiB) return;
  const workspaces = await context.workspaces.list((name) => ownsStorageName(owner, name));
  const provisionedMiB = workspaces.reduce((total, info) => total + (info.diskMiB ?? 0), 0);
  const afterMiB = provisionedMiB - (currentMiB ?? 0) + wantedMiB;
  if (afterMiB <= limits.ownerDiskQuotaMiB) return;
  throw new QuotaExceededError(
    `Workspace ${JSON.stringify(request.workspace)} would take your workspaces' disks to ${formatMiB(afterMiB)}, over your quota of ${formatMiB(limits.ownerDiskQuotaMiB)} (${formatMiB(provisionedMiB)} now, in ${workspaces.length} workspaces).`,
    {
      code: 'owner_disk_quota',
      workspace: internal, // the internal name; errors are put back into the owner's words on the way out
      hint: 'Free space by deleting workspaces you no longer need: mags workspace list, then mags workspace delete NAME (or ask for a smaller --disk).',
    },
  );
}
