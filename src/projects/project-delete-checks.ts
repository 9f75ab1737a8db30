import { ConflictError } from '../errors/mags-error.ts';
import type { ProjectRecord, SandboxRecord, TicketRecord } from '../state/state-repository.ts';

/**
 * Everything that would stop a project's deletion halfway, checked before anything is deleted
 * (a 409 `project_busy` naming what to end first): a ticket queued or running, a sandbox other
 * than a ticket's on one of the project's workspaces, a fork of the project workspace that is
 * not a ticket's (a fork's layers build on its source, which cannot go before it).
 */
export function checkProjectDeletable(input: {
  owner: string;
  project: ProjectRecord;
  tickets: readonly TicketRecord[];
  /** The owner's sandboxes. */
  sandboxes: readonly SandboxRecord[];
  /** Storage names of the project workspace's forks. */
  forks: readonly string[];
}): void {
  const { owner, project, tickets } = input;
  const name = project.name;
  const active = tickets.filter(
    (ticket) => ticket.status === 'queued' || ticket.status === 'running',
  );
  if (active.length > 0) {
    throw new ConflictError(
      `Project ${name} has ${active.length} queued or running ticket(s): ${active.map((ticket) => `${ticket.id} (${ticket.status})`).join(', ')}.`,
      {
        code: 'project_busy',
        hint: `Stop those tickets first (mags ticket stop ${active[0]?.id}), then delete the project.`,
      },
    );
  }
  const ticketIds = new Set(tickets.map((ticket) => ticket.id));
  const workspaces = new Set([
    project.workspace,
    ...tickets.flatMap((ticket) => (ticket.workspace ? [ticket.workspace] : [])),
  ]);
  const users = input.sandboxes.filter(
    (sandbox) =>
      sandbox.status !== 'stopped' &&
      sandbox.workspace !== null &&
      workspaces.has(sandbox.workspace) &&
      !ticketIds.has(sandbox.name),
  );
  if (users.length > 0) {
    throw new ConflictError(
      `Project ${name}'s workspaces are in use by sandbox(es) ${users.map((sandbox) => `${sandbox.name} (on ${sandbox.workspace})`).join(', ')}.`,
      {
        code: 'project_busy',
        hint: `Delete those sandboxes first (mags delete ${users[0]?.name}), then delete the project.`,
      },
    );
  }
  const ownName = (storageName: string) =>
    storageName.startsWith(`${owner}.`) ? storageName.slice(owner.length + 1) : storageName;
  const forks = input.forks.map(ownName).filter((fork) => !workspaces.has(fork));
  if (forks.length > 0) {
    throw new ConflictError(
      `Project ${name}'s workspace has forks that are not its tickets': ${forks.join(', ')}.`,
      {
        code: 'project_busy',
        hint: `Delete them first (mags workspace delete ${forks[0]}), then delete the project.`,
      },
    );
  }
}
