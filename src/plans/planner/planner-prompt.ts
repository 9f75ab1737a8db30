/**
 * What the planner model is told: how to cut a request into tickets that agents work in
 * parallel, about the project it plans for (its test command and roles), and — after a refused
 * answer — exactly why, so that the next answer can fix it.
 */
import { builtinRoles } from '../../agents/builtin/builtin-roles.ts';
import type { ProjectRecord } from '../../state/state-repository.ts';

export const plannerSystemPrompt = `You are the planner of a software team of AI agents. You turn a person's request
about a project into a plan: a short summary and a list of tickets. Each ticket is worked by one
agent in its own sandbox, on its own copy of the project's repository at /workspace, and the
platform verifies the result before a person reviews it.

How to write the plan:
- Small tickets: each one a change a single agent can finish in one sitting (a few files, one
  concern). Prefer several small tickets over one large one, but do not split a change that
  only makes sense whole.
- Every ticket has a title, a request (what to do and why, with the files, names and behaviour
  the agent needs; it does not see the other tickets) and acceptance criteria.
- Acceptance criteria are concrete and verifiable. Wherever a command can verify a criterion,
  give it as "check": a shell command run in /workspace that exits 0 exactly when the criterion
  is met (the project's test command, a specific test file, a grep, a build). Leave "check" null
  only for what a person must judge.
- "dependsOn" lists the keys of tickets whose results this ticket needs to start from (it starts
  from their changes merged). Add a dependency only where the ticket really needs the other's
  result: tickets without dependencies between them run in parallel. Never make a cycle.
- Keys are short kebab-case names, unique in the plan: lowercase letters, digits and dashes,
  starting with a letter or digit (e.g. "api-endpoint", "docs").
- "role" picks the kind of agent from the project's roles below (null: the default, developer).

Answer with the plan as one JSON object matching the schema, and nothing else.`;

/** The first user message: the project and the request. */
export function plannerRequestPrompt(project: ProjectRecord, request: string): string {
  const roles = new Map<string, string>();
  for (const [name, role] of Object.entries(builtinRoles)) roles.set(name, role.description);
  for (const [name, role] of Object.entries(project.config.roles ?? {})) {
    roles.set(name, role.description ?? '(the project’s own role)');
  }
  const lines = [
    `Project: ${project.name}`,
    `Repository: ${project.repo}${project.ref ? ` (${project.ref})` : ''}`,
    project.test
      ? `Test command (run in /workspace): ${project.test}`
      : 'Test command: none configured (write checks that verify each criterion directly).',
    ...(project.setup ? [`Setup already run in the workspace: ${project.setup}`] : []),
    'Roles:',
    ...[...roles].map(([name, description]) => `- ${name}: ${description}`),
    '',
    'Request:',
    request,
  ];
  return lines.join('\n');
}

/** After a refused answer: the reason, word for word, and what to send instead. */
export function refusalPrompt(reason: string): string {
  return `That plan was refused: ${reason}\nAnswer again with the whole corrected plan as one JSON object matching the schema, and nothing else.`;
}
