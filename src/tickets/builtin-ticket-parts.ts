import { type BuiltinAgentOptions, createBuiltinAgent } from '../agents/builtin/builtin-agent.ts';
import { resolveRole } from '../agents/builtin/builtin-roles.ts';
import { checkModel } from '../agents/resolve-model.ts';
import { assembleEvidence } from './evidence/assemble-evidence.ts';
import { commitApproved } from './review/commit-approved.ts';
import type { TicketAgentParts } from './ticket-parts.ts';

/**
 * The parts a server works tickets with: the built-in agent on the AI SDK, its model and role
 * checks, and the platform's evidence and review through git in the ticket's sandbox. Tests and
 * benchmarks pass `agent` options (a scripted model) and keep the rest.
 */
export function builtinTicketParts(agent: BuiltinAgentOptions = {}): TicketAgentParts {
  return {
    agent: createBuiltinAgent(agent),
    checkModel,
    resolveRole,
    assembleEvidence,
    commitApproved,
  };
}
