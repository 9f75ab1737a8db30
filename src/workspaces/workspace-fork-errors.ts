import { ConflictError, MagsError } from '../errors/mags-error.ts';

/** Deleting a workspace that forks build on would break them: refused, with the forks named. */
export class WorkspaceHasForksError extends ConflictError {
  readonly forks: string[];
  constructor(name: string, forks: string[], shown: string[] = forks) {
    super(
      `Workspace ${JSON.stringify(name)} cannot be deleted: ${shown.length === 1 ? 'the fork' : 'the forks'} ${shown.map((fork) => JSON.stringify(fork)).join(', ')} ${shown.length === 1 ? 'builds' : 'build'} on it.`,
      {
        workspace: name,
        code: 'workspace_has_forks',
        hint: 'Delete the forks first (mags workspace delete FORK), or make one independent: sync it (mags sync FORK), delete its local copy (--local-only) and pull it back (mags workspace pull FORK).',
      },
    );
    this.forks = forks;
  }
}

export function workspaceExistsError(name: string): ConflictError {
  return new ConflictError(`Workspace ${JSON.stringify(name)} already exists.`, {
    workspace: name,
    code: 'workspace_exists',
    hint: 'Choose another name for the fork (mags workspace list shows the names taken).',
  });
}

export function forkBusyError(name: string): ConflictError {
  return new ConflictError(
    `Workspace ${JSON.stringify(name)} is in use by a run; a fork needs it idle.`,
    {
      workspace: name,
      code: 'workspace_busy',
      hint: `Wait for the run to finish (or stop the sandbox using it: mags list shows it), then fork again.`,
    },
  );
}

export function chainBrokenError(name: string, source: string): MagsError {
  return new MagsError(
    `Workspace ${JSON.stringify(name)} builds on a layer of ${JSON.stringify(source)} that is gone.`,
    {
      workspace: name,
      code: 'workspace_chain_broken',
      statusCode: 500,
      hint: `Restore ${name} from object storage if it was synced (mags workspace pull ${name}), or delete it.`,
    },
  );
}
