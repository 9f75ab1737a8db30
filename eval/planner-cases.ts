/**
 * The planner's evaluation cases and how a plan is graded: requests that need more than one
 * ticket, for a described project. A plan passes when the planner wrote one (it parses and its
 * graph holds: the planner checks that), it has at least `minTickets` tickets, every criterion
 * of a ticket that changes code (any role but reviewer) has a `check` command that can fail
 * (not `true`, `exit 0`, `:` or `… || true`), and the dependencies the case expects hold: a
 * ticket that needs another's result depends on it, and tickets that can run in parallel do not.
 */
import type { PlanSpec, PlanTicketSpec } from '../src/api/plans.ts';
import type { ProjectRecord } from '../src/state/state-repository.ts';

/**
 * A dependency the case expects, or forbids. Tickets are found by their key and title (the
 * planner chooses keys; titles are short and name the change).
 */
export interface ExpectedDependency {
  /** The dependent ticket's key or title matches this. */
  ticket: RegExp;
  /** The ticket it depends on (directly or through others) matches this. */
  on: RegExp;
  /** true: some such ticket must depend on such another; false: none may (they run in parallel). */
  required: boolean;
  /** Why, for the problem the grade names. */
  why: string;
}

export interface PlannerCase {
  name: string;
  /** The project as stored: `repo` a repository's address, as a person imports it. */
  project: Pick<ProjectRecord, 'name' | 'repo' | 'test' | 'setup'>;
  /** What kind of project it is (the planner does not see the repository): goes in the request. */
  description: string;
  request: string;
  minTickets: number;
  dependencies: readonly ExpectedDependency[];
}

export const plannerCases: readonly PlannerCase[] = [
  {
    name: 'health-endpoint',
    project: {
      name: 'service',
      repo: 'https://github.com/example/service.git',
      test: 'npm test',
      setup: 'npm ci',
    },
    description: 'an Express (Node.js) HTTP service',
    request:
      'Add GET /health returning {"ok": true} with status 200, with a test in test/health.test.js, and document the endpoint in README.md.',
    minTickets: 2,
    // The docs may wait for the endpoint or be written beside it: either is a good plan.
    dependencies: [],
  },
  {
    name: 'two-cli-flags',
    project: {
      name: 'synctool',
      repo: 'https://github.com/example/synctool.git',
      test: 'pytest -q',
      setup: 'pip install -e .',
    },
    description: 'a Python command-line tool (argparse, pytest)',
    request:
      'Add a --json flag to the `list` command (prints the items as a JSON array) and a --quiet flag to the `sync` command (prints nothing on success). Each with its own tests.',
    minTickets: 2,
    dependencies: [
      {
        ticket: /quiet/i,
        on: /json/i,
        required: false,
        why: 'the two flags are independent',
      },
      { ticket: /json/i, on: /quiet/i, required: false, why: 'the two flags are independent' },
    ],
  },
  {
    name: 'config-then-use',
    project: {
      name: 'webapp',
      repo: 'https://github.com/example/webapp.git',
      test: 'npm test',
      setup: 'npm ci',
    },
    description: 'a TypeScript web app (Vite, Vitest)',
    request:
      'Add a config module (src/config.ts) that reads API_URL from the environment with a default of http://localhost:3000, then make src/api.ts use it instead of its hard-coded URL, with tests for both.',
    minTickets: 2,
    dependencies: [
      {
        ticket: /\bapi\b/i,
        on: /config/i,
        required: true,
        why: 'src/api.ts uses the config module',
      },
    ],
  },
];

/** The request as the planner gets it: what the project is, then the request. */
export function plannerCaseRequest(plannerCase: PlannerCase): string {
  return `The project is ${plannerCase.description}.\n\n${plannerCase.request}`;
}

export interface PlannerGrade {
  passed: boolean;
  tickets: number;
  /** Criteria of code-changing tickets, and how many of them have a check that can fail. */
  codeCriteria: number;
  checkedCriteria: number;
  /** Checks that always pass (`true`, `exit 0`, `:`, `… || true`): each fails the case. */
  trivialChecks: number;
  /** Tickets that depend on no other (run at once). */
  independent: number;
  /** Expected dependencies (and independences) that hold, of the case's. */
  dependenciesMet: number;
  problems: string[];
}

export function gradePlan(plannerCase: PlannerCase, spec: PlanSpec): PlannerGrade {
  const problems: string[] = [];
  if (spec.tickets.length < plannerCase.minTickets) {
    problems.push(`${spec.tickets.length} ticket(s), at least ${plannerCase.minTickets} expected`);
  }
  let codeCriteria = 0;
  let checkedCriteria = 0;
  let trivialChecks = 0;
  for (const ticket of spec.tickets) {
    if (ticket.role === 'reviewer') continue;
    for (const [index, criterion] of ticket.criteria.entries()) {
      codeCriteria++;
      const check = criterion.check?.trim();
      if (!check) {
        problems.push(`${ticket.key}: criterion ${index + 1} ("${criterion.text}") has no check`);
      } else if (alwaysPasses(check)) {
        trivialChecks++;
        problems.push(
          `${ticket.key}: criterion ${index + 1} ("${criterion.text}") has a check that always passes: ${check}`,
        );
      } else checkedCriteria++;
    }
  }
  let dependenciesMet = 0;
  for (const expected of plannerCase.dependencies) {
    const problem = dependencyProblem(spec.tickets, expected);
    if (problem) problems.push(problem);
    else dependenciesMet++;
  }
  return {
    passed: problems.length === 0,
    tickets: spec.tickets.length,
    codeCriteria,
    checkedCriteria,
    trivialChecks,
    independent: spec.tickets.filter((ticket) => ticket.dependsOn.length === 0).length,
    dependenciesMet,
    problems,
  };
}

/** A check that exits 0 whatever the workspace holds. */
export function alwaysPasses(check: string): boolean {
  const command = check.trim().replace(/;+$/, '').trim();
  if (/^(true|:|exit( 0)?|\/bin\/true|\/usr\/bin\/true)$/.test(command)) return true;
  // Anything ending in `|| true` (or `; true`, `; exit 0`) exits 0 whatever it checked first.
  return /(\|\||;)\s*(true|:|exit( 0)?)$/.test(command);
}

function dependencyProblem(
  tickets: readonly PlanTicketSpec[],
  expected: ExpectedDependency,
): string | undefined {
  const named = (ticket: PlanTicketSpec, pattern: RegExp) =>
    pattern.test(ticket.key) || pattern.test(ticket.title);
  const byKey = new Map(tickets.map((ticket) => [ticket.key, ticket]));
  const needs = (ticket: PlanTicketSpec, seen = new Set<string>()): Set<string> => {
    for (const key of ticket.dependsOn) {
      if (seen.has(key)) continue;
      seen.add(key);
      const dependency = byKey.get(key);
      if (dependency) needs(dependency, seen);
    }
    return seen;
  };
  if (expected.required) {
    const met = tickets.some(
      (ticket) =>
        named(ticket, expected.ticket) &&
        [...needs(ticket)].some((key) => {
          const dependency = byKey.get(key);
          return dependency !== undefined && named(dependency, expected.on);
        }),
    );
    return met
      ? undefined
      : `no ticket matching ${expected.ticket} depends on one matching ${expected.on} (${expected.why})`;
  }
  // Forbidden: only tickets that are clearly one side and not the other count (a ticket doing
  // both, or a final one testing both, may depend on anything).
  for (const ticket of tickets) {
    if (!named(ticket, expected.ticket) || named(ticket, expected.on)) continue;
    for (const key of needs(ticket)) {
      const dependency = byKey.get(key);
      if (dependency && named(dependency, expected.on) && !named(dependency, expected.ticket)) {
        return `${ticket.key} depends on ${dependency.key}, but ${expected.why}: they should run in parallel`;
      }
    }
  }
  return undefined;
}
