import { ConflictError } from '../errors/mags-error.ts';
import type {
  PlanRecord,
  ProjectRecord,
  SandboxRecord,
  TicketRecord,
} from '../state/state-repository.ts';

/** A plan's status while it does work of its own (its planner, its dispatch, its integration). */
const activePlanStatuses: ReadonlySet<PlanRecord['status']> = new Set([
  'planning',
  'running',
  'integrating',
]);

/** The uuid a plan's forks are named with (`<ticket>-<uuid>`, `<plan>-integration-<uuid>`). */
const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * Everything that would stop a project's deletion halfway, checked before anything is deleted
 * (a 409 `project_busy` naming what to end first): a ticket queued or running, a plan planning,
 * running or integrating (its dispatch would go on forking a project being deleted: stop it
 * first), a sandbox other than a ticket's on one of the project's workspaces, a fork of the
 * project workspace that is neither a ticket's nor a plan's (a fork's layers build on its source,
 * which cannot go before it). Returns the plans' forks (a merge a ticket never started from, an
 * integration), deleted with the project as its tickets' workspaces are.
 */
export function checkProjectDeletable(input: {
  owner: string;
  project: ProjectRecord;
  tickets: readonly TicketRecord[];
  /** The owner's sandboxes. */
  sandboxes: readonly SandboxRecord[];
  /** The project's plans. */
  plans: readonly PlanRecord[];
  /** Storage names of the project workspace's forks. */
  forks: readonly string[];
}): { planForks: string[] } {
  const { owner, project, tickets, plans } = input;
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
  const running = plans.filter((plan) => activePlanStatuses.has(plan.status));
  if (running.length > 0) {
    throw new ConflictError(
      `Project ${name} has ${running.length} plan(s) at work: ${running.map((plan) => `${plan.id} (${plan.status})`).join(', ')}.`,
      {
        code: 'project_busy',
        hint: `Stop those plans first (mags plan stop ${running[0]?.id}), then delete the project.`,
      },
    );
  }
  const ticketIds = new Set(tickets.map((ticket) => ticket.id));
  const ownName = (storageName: string) =>
    storageName.startsWith(`${owner}.`) ? storageName.slice(owner.length + 1) : storageName;
  const forkPrefixes = [
    ...tickets.map((ticket) => escapeRegExp(ticket.id)),
    ...plans.map((plan) => `${escapeRegExp(plan.id)}-integration`),
  ];
  const planFork = new RegExp(`^(?:${forkPrefixes.join('|')})-${uuid}$`);
  const ticketWorkspaces = tickets.flatMap((ticket) =>
    ticket.workspace ? [ticket.workspace] : [],
  );
  const planForks = input.forks
    .map(ownName)
    .filter(
      (fork) =>
        !ticketWorkspaces.includes(fork) &&
        ((forkPrefixes.length > 0 && planFork.test(fork)) ||
          plans.some((plan) => plan.integration?.workspace === fork)),
    );
  const workspaces = new Set([project.workspace, ...ticketWorkspaces, ...planForks]);
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
  const forks = input.forks.map(ownName).filter((fork) => !workspaces.has(fork));
  if (forks.length > 0) {
    throw new ConflictError(
      `Project ${name}'s workspace has forks that are not its tickets' or plans': ${forks.join(', ')}.`,
      {
        code: 'project_busy',
        hint: `Delete them first (mags workspace delete ${forks[0]}), then delete the project.`,
      },
    );
  }
  return { planForks };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
