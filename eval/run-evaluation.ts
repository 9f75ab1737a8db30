/**
 * The evaluation suite's work, for one model over the fixtures: each fixture becomes a project
 * (from a git repository made of its files), its ticket runs with the model, and when the agent
 * and the platform's checks are done the hidden tests are copied into the ticket's sandbox and
 * run there, graded as SWE-bench does. Everything goes through the API, as a client would.
 */

import type { z } from 'zod';
import type { AgentSandbox } from '../src/agents/agent-sandbox.ts';
import type { CreateProjectBodySchema, Project } from '../src/api/projects.ts';
import type { CreateTicketBody, Evidence, Ticket } from '../src/api/tickets.ts';
import type { EvaluationRow } from './evaluation-report.ts';
import type { Fixture } from './fixture.ts';
import { createFixtureRepository } from './fixture-repository.ts';
import { gradeWithHiddenTests } from './grade.ts';

type CreateProjectBody = z.input<typeof CreateProjectBodySchema>;

/** What the evaluation asks of a mags server (the SDK's projects, tickets and sandboxes). */
export interface EvaluationApi {
  createProject(body: CreateProjectBody): Promise<Project>;
  createTicket(body: CreateTicketBody): Promise<Ticket>;
  /** The ticket once it has left `queued` and `running`. */
  waitForTicket(id: string): Promise<Ticket>;
  /** The latest attempt's evidence, or null when none was assembled. */
  evidence(id: string): Promise<Evidence | null>;
  /** A sandbox of the caller's, by name (a ticket's is named like the ticket). */
  sandbox(name: string): Pick<AgentSandbox, 'exec' | 'writeFile'>;
}

export interface EvaluationOptions {
  api: EvaluationApi;
  fixtures: readonly Fixture[];
  /** `provider:model` for every ticket. */
  model: string;
  /** Tickets at once (default 1: a real model's rate limits and costs stay predictable). */
  concurrency?: number;
  /** Where the fixtures' git repositories are made (the server imports them from here). */
  workDirectory: string;
  /** Each fixture's row as soon as it is graded (progress for the terminal). */
  onRow?(row: EvaluationRow): void;
}

export async function runEvaluation(options: EvaluationOptions): Promise<EvaluationRow[]> {
  const rows: EvaluationRow[] = new Array(options.fixtures.length);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < options.fixtures.length; index = next++) {
      const row = await evaluateFixture(options, options.fixtures[index] as Fixture);
      rows[index] = row;
      options.onRow?.(row);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 1, options.fixtures.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return rows;
}

async function evaluateFixture(
  options: EvaluationOptions,
  fixture: Fixture,
): Promise<EvaluationRow> {
  const { api } = options;
  const startedMs = performance.now();
  const row: EvaluationRow = {
    fixture: fixture.name,
    ticket: null,
    status: 'not started',
    grade: null,
    criteria: { met: 0, total: fixture.ticket.criteria.length },
    steps: 0,
    tokens: 0,
    costUsd: 0,
    durationMs: 0,
    note: null,
  };
  try {
    const repository = await createFixtureRepository(
      fixture.name,
      fixture.repository,
      options.workDirectory,
    );
    const project = await api.createProject({ name: fixture.name, repo: repository.path });
    if (project.status !== 'ready') {
      row.status = `project ${project.status}`;
      row.note = project.reason ?? 'the project did not become ready';
      return row;
    }
    const created = await api.createTicket({
      project: project.name,
      title: fixture.ticket.title,
      request: fixture.ticket.request,
      criteria: fixture.ticket.criteria,
      ...(fixture.ticket.budget ? { budget: fixture.ticket.budget } : {}),
      model: options.model,
      run: true,
    });
    row.ticket = created.id;
    const ticket = await api.waitForTicket(created.id);
    row.status = ticket.status;
    row.steps = ticket.usage.steps;
    row.tokens = ticket.usage.inputTokens + ticket.usage.outputTokens;
    row.costUsd = ticket.usage.costUsd;
    if (ticket.status !== 'awaiting_review') row.note = ticket.reason;
    const evidence = await api.evidence(ticket.id);
    if (evidence) {
      row.criteria.met = evidence.criteria.filter((result) => result.status === 'met').length;
    }
    if (ticket.workspace === null) {
      row.note = `not graded: the ticket never had a workspace (${ticket.reason ?? ticket.status})`;
      return row;
    }
    // After the agent and the platform's own checks: the hidden tests never were in its view.
    row.grade = await gradeWithHiddenTests(api.sandbox(ticket.id), fixture.hidden);
    return row;
  } catch (error) {
    row.note = `${row.note ? `${row.note}; ` : ''}${(error as Error).message}`;
    return row;
  } finally {
    row.durationMs = performance.now() - startedMs;
  }
}
