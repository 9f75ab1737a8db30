/**
 * Records as a server stores them, for the state contracts, tests and the evaluations that need
 * a record without making one through the API: one set of builders, so that a field added to a
 * record is added here once. Every builder takes overrides of any field.
 */
import type { PlanTicket } from '../api/plans.ts';
import type { Evidence } from '../api/tickets.ts';
import type { PlanRecord, ProjectRecord, TicketRecord } from './state-repository.ts';

const noUsage = { inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 };

/** A project of alice's (`fields.owner` for another's), imported (`ready`, at commit c0ffee). */
export function projectRecord(name: string, fields: Partial<ProjectRecord> = {}): ProjectRecord {
  const at = new Date().toISOString();
  return {
    owner: 'alice',
    name,
    repo: `/srv/${name}`,
    ref: null,
    workspace: `project.${name}`,
    commit: 'c0ffee',
    setupTree: null,
    setup: null,
    test: null,
    model: null,
    config: {},
    status: 'ready',
    reason: null,
    network: false,
    createdAt: at,
    updatedAt: at,
    ...fields,
  };
}

/** A draft ticket `id` of `owner`'s project, never run, with one checked criterion. */
export function ticketRecord(
  id: string,
  owner: string,
  project: string,
  fields: Partial<TicketRecord> = {},
): TicketRecord {
  const at = new Date().toISOString();
  return {
    id,
    owner,
    project,
    title: `Fix ${id}`,
    request: 'Make the test pass.',
    criteria: [{ text: 'tests pass', check: 'npm test' }],
    role: 'developer',
    model: null,
    budget: {},
    status: 'draft',
    reason: null,
    workspace: null,
    baseCommit: null,
    baseTree: null,
    attempt: 0,
    usage: noUsage,
    branch: null,
    commit: null,
    plan: null,
    history: [],
    createdAt: at,
    updatedAt: at,
    ...fields,
  };
}

/** The evidence of a ticket's `attempt`: a one-line diff, no tests, no criteria. */
export function evidenceRecord(
  ticket: string,
  attempt: number,
  fields: Partial<Evidence> = {},
): Evidence {
  return {
    ticket,
    attempt,
    agentEnd: 'finished',
    agentMessage: 'done',
    summary: `attempt ${attempt}`,
    baseCommit: 'c0ffee',
    tree: null,
    diff: '--- a/x\n+++ b/x\n',
    diffStat: { files: [{ path: 'x', added: 1, removed: 0, binary: false }] },
    tests: null,
    criteria: [],
    usage: { inputTokens: 1, outputTokens: 1, costUsd: 0, steps: 1 },
    startedAt: 'then',
    finishedAt: 'now',
    durationMs: 5,
    ...fields,
  };
}

/** A draft plan of `owner`'s with one pending ticket `only`. */
export function planRecord(
  id: string,
  owner: string,
  projectName: string,
  overrides: Partial<PlanRecord> = {},
): PlanRecord {
  return {
    id,
    owner,
    project: projectName,
    request: `Do ${id}`,
    summary: null,
    status: 'draft',
    reason: null,
    model: null,
    auto: false,
    autoApprove: false,
    maxParallel: 4,
    budget: {},
    usage: noUsage,
    tickets: [planTicketItem('only')],
    baseCommit: null,
    integration: null,
    branch: null,
    commit: null,
    approvedAt: null,
    host: null,
    server: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** One pending ticket of a plan. */
export function planTicketItem(key: string, overrides: Partial<PlanTicket> = {}): PlanTicket {
  return {
    key,
    title: `Do ${key}`,
    request: `Make ${key} happen.`,
    criteria: [{ text: 'tests pass', check: 'npm test' }, { text: 'readable' }],
    dependsOn: [],
    state: 'pending',
    reason: null,
    ticket: null,
    ticketStatus: null,
    usage: noUsage,
    conflictFiles: [],
    ...overrides,
  };
}
