/**
 * The built-in roles (a system prompt and the tools it may use) and how a project's own roles
 * (`.mags/project.json` `roles`) extend or override them.
 */
import { agentToolNames, type ProjectConfig } from '../../api/projects.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import type { AgentRole } from '../agent.ts';

/** A role as the platform resolves it: the agent's view plus the role's default model. */
export interface ResolvedRole extends AgentRole {
  description: string;
  /** `provider:model`, or null: the project's, then the server's default. */
  model: string | null;
}

const workingRules = `You work inside a sandbox on a copy of the project's repository at /workspace. You can
only act through your tools; nothing you do reaches the user's machine. Work in small, checked
steps: read the code you change, run the project's tests, and fix what fails. Keep changes to
what the ticket asks. When you are done, call finish with a short summary and one honest claim
per acceptance criterion (met or not, with a note): the platform runs the tests and every
criterion's check itself afterwards, and a person reviews the result.`;

export const builtinRoles: Readonly<Record<string, ResolvedRole>> = {
  developer: {
    name: 'developer',
    description: 'Implements the ticket: reads, edits and tests code.',
    systemPrompt: `You are a careful software developer working a ticket.\n${workingRules}`,
    tools: agentToolNames,
    model: null,
  },
  tester: {
    name: 'tester',
    description: 'Writes and runs tests for the behaviour the ticket describes.',
    systemPrompt: `You are a software tester working a ticket: write tests that show whether the
described behaviour holds, run them, and report what passes and what fails. Change production
code only when the ticket asks for it.\n${workingRules}`,
    tools: agentToolNames,
    model: null,
  },
  reviewer: {
    name: 'reviewer',
    description: 'Reviews the code and reports findings; may run commands, does not edit files.',
    systemPrompt: `You are a code reviewer working a ticket: read the code and its tests, run them, and
report problems with file and line. You do not change files.\n${workingRules}`,
    tools: ['run_command', 'read_file', 'list_files', 'search_files', 'finish'],
    model: null,
  },
};

/**
 * The role named `name`: the project's own first (it may override a built-in one), then the
 * built-ins. An unknown name is an InvalidInputError listing the known ones.
 */
export function resolveRole(name: string, projectRoles: ProjectConfig['roles'] = {}): ResolvedRole {
  const own = Object.hasOwn(projectRoles, name) ? projectRoles[name] : undefined;
  if (own) {
    const tools = own.tools ?? agentToolNames;
    return {
      name,
      description: own.description ?? '',
      systemPrompt: own.systemPrompt,
      // Without finish the agent could only end on a budget: every role may finish.
      tools: tools.includes('finish') ? tools : [...tools, 'finish'],
      model: own.model ?? null,
    };
  }
  const builtin = Object.hasOwn(builtinRoles, name) ? builtinRoles[name] : undefined;
  if (builtin) return builtin;
  const known = [...new Set([...Object.keys(projectRoles), ...Object.keys(builtinRoles)])];
  throw new InvalidInputError(`Unknown role "${name}".`, {
    code: 'unknown_role',
    hint: `Known roles: ${known.join(', ')} (a project adds its own in .mags/project.json "roles").`,
  });
}
