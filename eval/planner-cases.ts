/**
 * The planner's evaluation cases and how a plan is graded: requests that need more than one
 * ticket, for a described project. A plan passes when the planner wrote one (it parses and its
 * graph holds: the planner checks that), it has at least `minTickets` tickets, and every criterion
 * of a ticket that changes code (any role but reviewer) has a `check` command.
 */
import type { PlanSpec } from '../src/api/plans.ts';
import type { ProjectRecord } from '../src/state/state-repository.ts';

export interface PlannerCase {
  name: string;
  project: Pick<ProjectRecord, 'name' | 'repo' | 'test' | 'setup'>;
  request: string;
  minTickets: number;
}

export const plannerCases: readonly PlannerCase[] = [
  {
    name: 'health-endpoint',
    project: {
      name: 'service',
      repo: 'an Express (Node.js) HTTP service',
      test: 'npm test',
      setup: 'npm ci',
    },
    request:
      'Add GET /health returning {"ok": true} with status 200, with a test in test/health.test.js, and document the endpoint in README.md.',
    minTickets: 2,
  },
  {
    name: 'two-cli-flags',
    project: {
      name: 'synctool',
      repo: 'a Python command-line tool (argparse, pytest)',
      test: 'pytest -q',
      setup: 'pip install -e .',
    },
    request:
      'Add a --json flag to the `list` command (prints the items as a JSON array) and a --quiet flag to the `sync` command (prints nothing on success). Each with its own tests.',
    minTickets: 2,
  },
  {
    name: 'config-then-use',
    project: {
      name: 'webapp',
      repo: 'a TypeScript web app (Vite, Vitest)',
      test: 'npm test',
      setup: 'npm ci',
    },
    request:
      'Add a config module (src/config.ts) that reads API_URL from the environment with a default of http://localhost:3000, then make src/api.ts use it instead of its hard-coded URL, with tests for both.',
    minTickets: 2,
  },
];

export interface PlannerGrade {
  passed: boolean;
  tickets: number;
  /** Criteria of code-changing tickets, and how many of them have a check. */
  codeCriteria: number;
  checkedCriteria: number;
  /** Tickets that depend on no other (run at once). */
  independent: number;
  problems: string[];
}

export function gradePlan(plannerCase: PlannerCase, spec: PlanSpec): PlannerGrade {
  const problems: string[] = [];
  if (spec.tickets.length < plannerCase.minTickets) {
    problems.push(`${spec.tickets.length} ticket(s), at least ${plannerCase.minTickets} expected`);
  }
  let codeCriteria = 0;
  let checkedCriteria = 0;
  for (const ticket of spec.tickets) {
    if (ticket.role === 'reviewer') continue;
    for (const [index, criterion] of ticket.criteria.entries()) {
      codeCriteria++;
      if (criterion.check?.trim()) checkedCriteria++;
      else
        problems.push(`${ticket.key}: criterion ${index + 1} ("${criterion.text}") has no check`);
    }
  }
  return {
    passed: problems.length === 0,
    tickets: spec.tickets.length,
    codeCriteria,
    checkedCriteria,
    independent: spec.tickets.filter((ticket) => ticket.dependsOn.length === 0).length,
    problems,
  };
}
