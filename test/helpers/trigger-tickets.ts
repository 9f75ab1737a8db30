/**
 * Tickets for the trigger firer's unit tests: stored in the real state repository (what the
 * trigger events read), with no agent run; the test moves each through its statuses and sets
 * what it cost, so limits, budgets and loops are tested without a model or a sandbox.
 */
import type {
  CreateTicketBody,
  Evidence,
  TicketEvent,
  TicketStatus,
} from '../../src/api/tickets.ts';
import { randomId } from '../../src/config/random-id.ts';
import type { StateRepository, TicketRecord } from '../../src/state/state-repository.ts';
import type { TicketEventListener } from '../../src/tickets/ticket-event-log.ts';
import type { TriggerTickets } from '../../src/triggers/trigger-work.ts';

export class StoredTickets implements TriggerTickets {
  readonly created: CreateTicketBody[] = [];
  readonly comments: { id: string; text: string }[] = [];
  /** None by default (every body passes); a test sets one to refuse. */
  check?: TriggerTickets['check'];
  readonly #repository: StateRepository;
  readonly #listeners = new Set<TicketEventListener>();
  #eventId = 0;

  constructor(repository: StateRepository) {
    this.#repository = repository;
  }

  async create(owner: string, body: CreateTicketBody): Promise<TicketRecord> {
    this.created.push(body);
    const at = new Date().toISOString();
    const record: TicketRecord = {
      id: randomId('tkt_'),
      owner,
      project: body.project,
      title: body.title,
      request: body.request,
      criteria: body.criteria,
      role: body.role ?? 'coder',
      model: body.model ?? null,
      budget: body.budget ?? {},
      status: 'queued',
      reason: null,
      workspace: null,
      baseCommit: null,
      baseTree: null,
      attempt: 1,
      usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 },
      plan: null,
      branch: null,
      commit: null,
      createdAt: at,
      updatedAt: at,
      history: [],
    } as TicketRecord;
    await this.#repository.insertTicket(record);
    return record;
  }

  async get(owner: string, id: string): Promise<TicketRecord> {
    const record = await this.#repository.getTicket(owner, id);
    if (!record) throw new Error(`no ticket ${id}`);
    return record;
  }

  async comment(_owner: string, id: string, comment: { author: string; text: string }) {
    this.comments.push({ id, text: comment.text });
    return { id: ++this.#eventId } as unknown as TicketEvent;
  }

  /** Moves the ticket to `status` (costing `costUsd` so far) and tells the listeners. */
  async move(owner: string, id: string, status: TicketStatus, costUsd?: number): Promise<void> {
    const record = await this.get(owner, id);
    const usage = costUsd === undefined ? record.usage : { ...record.usage, costUsd };
    await this.#repository.updateTicket(id, { status, usage });
    const event = {
      id: ++this.#eventId,
      at: new Date().toISOString(),
      data: { type: 'status', from: record.status, to: status },
    } as unknown as TicketEvent;
    for (const listener of this.#listeners) listener(id, event, owner);
  }

  async approve(owner: string, id: string): Promise<TicketRecord> {
    await this.move(owner, id, 'approved');
    return this.get(owner, id);
  }

  /** Every criterion of every ticket verified met (what an autoApprove trigger approves). */
  async evidence(): Promise<Evidence> {
    return { criteria: [{ criterion: 0, status: 'met' }], tests: null } as unknown as Evidence;
  }

  onEvent(listener: TicketEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
