import { ConflictError, MagsError } from '../errors/mags-error.ts';
import { maxChainLength } from './workspace-layers.ts';

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

/**
 * A fork that would sit on more frozen layers (`layers`) than a sandbox can mount
 * (`maxChainLength`): a chain of forks of forks, each adding a layer of its own. The source's own
 * layers were merged into one first, so this happens only to a source with none of its own in
 * its chain, which no fork therefore builds on: its local copy can always be replaced by one
 * whole layer (a pull), which the hint says how.
 */
export class ForkChainTooLongError extends ConflictError {
  readonly layers: number;
  constructor(name: string, layers: number) {
    super(
      `A fork of workspace ${JSON.stringify(name)} would sit on ${layers} frozen layers (a chain of forks of forks), more than a sandbox can mount (${maxChainLength}).`,
      {
        workspace: name,
        code: 'fork_chain_too_long',
        hint: `Flatten it first: sync it (mags sync ${name}), delete its local copy (mags workspace delete ${name} --local-only) and pull it back as one layer (mags workspace pull ${name}), then fork it again.`,
      },
    );
    this.layers = layers;
  }
}
