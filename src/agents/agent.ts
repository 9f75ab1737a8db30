/**
 * The agent interface (`agent-v1`), the same pattern as `runtime-v1`: tickets, events and
 * evidence talk to an `Agent`, never to a model library. The built-in loop on the Vercel AI SDK
 * (`builtin/`) is the first implementation; another one — a coding CLI users already run, driven
 * inside the sandbox with its JSON events mapped onto ours — can be added without touching them.
 *
 * An agent works only through `AgentSession.sandbox` (the ticket's sandbox, never the host),
 * reports every step through `emit`, reads a person's comments at each step, and ends with an
 * `AgentOutcome`. Checking the ticket's criteria is not its job: the platform does that after.
 */
import type {
  Budget,
  Criterion,
  CriterionClaim,
  TicketEventData,
  TokenUsage,
} from '../api/tickets.ts';
import type { AgentSandbox } from './agent-sandbox.ts';
import type { ModelPriceTable } from './model-prices.ts';

/** What the agent is asked to do. */
export interface AgentTask {
  ticket: { id: string; title: string; request: string; criteria: Criterion[] };
  project: { name: string; test: string | null };
  role: AgentRole;
  /** `provider:model`, already chosen (ticket, then role, then project, then server default). */
  model: string;
  /** Every limit filled in (the server's defaults). */
  budget: Required<Budget>;
  /** What the previous attempts' agent said and did (`AgentOutcome.history`), to continue from. */
  history: unknown[];
  /** A reviewer's `request-changes` text that starts this attempt, if it is not the first. */
  feedback?: string;
  /**
   * The ticket's usage before this attempt. Tokens and cost are budgets of the whole ticket, so
   * they count from here; steps and wall time are budgets of each attempt, so a request-changes
   * attempt gets its own.
   */
  usageSoFar: TokenUsage;
  prices: ModelPriceTable;
  /**
   * Where the model's keys and base URLs come from (default `process.env`): the same environment
   * the ticket layer checked the model against (`checkModel`), a server's or a test's own.
   */
  environment?: NodeJS.ProcessEnv;
}

export interface AgentRole {
  name: string;
  systemPrompt: string;
  /** Tool names the role may use (see `agentToolNames`). */
  tools: readonly string[];
}

export interface AgentSession {
  sandbox: AgentSandbox;
  /**
   * Reports a step (stored durably and streamed by the ticket layer, which adds id and time).
   * Awaiting it is optional; events keep their order either way.
   */
  emit(event: TicketEventData): void | Promise<void>;
  /**
   * A person's comments that arrived since the last call, oldest first (each returned once).
   * What it returns is part of the conversation from then on: the history passed to the next
   * `saveHistory`, and the `AgentOutcome.history` the agent ends with, hold it (as they hold
   * `AgentTask.feedback`). The ticket layer stores which comments that history holds with it and
   * gives the next attempt exactly the rest: one the agent never took (posted during its last
   * step, or before a budget stop) comes again, one it took does not.
   */
  takeComments(): string[];
  /** Aborted when a person stops the ticket. */
  signal: AbortSignal;
  /**
   * Stores the conversation so far (the `AgentOutcome.history` it would end with), called after
   * each step, so that a server that goes away mid-attempt loses at most the step it was in.
   */
  saveHistory?(history: unknown[]): void | Promise<void>;
}

export const agentEndReasons = [
  'finished',
  'budget_steps',
  'budget_tokens',
  'budget_cost',
  'budget_time',
  'stopped',
  'provider_error',
] as const;
export type AgentEndReason = (typeof agentEndReasons)[number];

export interface AgentOutcome {
  reason: AgentEndReason;
  /** In words, for the ticket's reason and the evidence ("stopped after 30 steps (budget)"). */
  message: string;
  /** The agent's own summary and claims, from `finish` (absent when it did not finish). */
  summary?: string;
  claims?: CriterionClaim[];
  /** This attempt's usage (the ticket adds it to its totals). */
  usage: TokenUsage;
  /** The whole conversation to continue from in a later attempt (serialisable JSON). */
  history: unknown[];
}

export interface Agent {
  readonly specificationVersion: 'agent-v1';
  readonly name: string;
  run(task: AgentTask, session: AgentSession): Promise<AgentOutcome>;
}
