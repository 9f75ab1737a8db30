/**
 * What every built-in tool gets: the ticket's sandbox (its only way to act), an ordered `emit`,
 * the step it runs in, and the run's abort signal. A tool never throws at the loop: what went
 * wrong comes back as a `ToolOutput` with `isError`, worded so the model can act on it.
 */
import type { z } from 'zod';
import type { Criterion, CriterionClaim, TicketEventData } from '../../../api/tickets.ts';
import { MagsError } from '../../../errors/mags-error.ts';
import type { AgentSandbox } from '../../agent-sandbox.ts';

export interface ToolOutput {
  /** What the model is shown (already cut to size). */
  text: string;
  isError: boolean;
}

export interface ToolContext {
  sandbox: AgentSandbox;
  /** Resolves once the event is handed on, so tools' events keep their order. */
  emit(event: TicketEventData): Promise<void>;
  /** The step the current model call is (1 for the first of this attempt). */
  step(): number;
  signal: AbortSignal;
  criteria: readonly Criterion[];
  commandTimeoutMs: { default: number; max: number };
  /**
   * Snapshots the workspace and emits a `file_change` per path changed since the last snapshot
   * (`workspace-changes.ts`); called after each tool that may change files.
   */
  recordChanges(): Promise<void>;
  /** `finish` records the agent's summary and claims here; the loop ends after the step. */
  finished(result: { summary: string; claims: CriterionClaim[] }): void;
}

export interface AgentToolDefinition<INPUT> {
  description: string;
  inputSchema: z.ZodType<INPUT>;
  run(input: INPUT, call: { toolCallId: string }, context: ToolContext): Promise<ToolOutput>;
}

export function succeeded(text: string): ToolOutput {
  return { text, isError: false };
}

export function failed(text: string): ToolOutput {
  return { text: `Error: ${text}`, isError: true };
}

/** A sandbox error in words for the model: the message plus what to do, when known. */
export function describeError(error: unknown): string {
  if (error instanceof MagsError)
    return error.hint ? `${error.message} ${error.hint}` : error.message;
  return error instanceof Error ? error.message : String(error);
}
