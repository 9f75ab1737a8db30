import { DependencyMissingError } from '../errors/mags-error.ts';
import type { TicketAgentParts, TicketProjects } from './ticket-parts.ts';

/**
 * Stand-ins a server uses until the real projects, agent and evidence are wired in
 * (`start-server.ts`): each says clearly that this build has no such part, instead of failing
 * in some less readable way. Tests and embedders pass their own.
 */
const missing = (part: string) => (): never => {
  throw new DependencyMissingError(`This mags server has no ${part} wired in.`, {
    code: 'ticket_part_missing',
    hint: 'Start a server built with projects and the built-in agent (see README, "Tickets").',
  });
};

export const unwiredTicketProjects: TicketProjects = {
  get: async () => missing('projects')(),
  forkForTicket: async () => missing('projects')(),
  importBranch: async () => missing('projects')(),
};

export const unwiredTicketParts: TicketAgentParts = {
  agent: {
    specificationVersion: 'agent-v1',
    name: 'unwired',
    run: async () => missing('agent')(),
  },
  checkModel: missing('agent'),
  resolveRole: missing('agent'),
  assembleEvidence: async () => missing('evidence')(),
  commitApproved: async () => missing('review')(),
};
