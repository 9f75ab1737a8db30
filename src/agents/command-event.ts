import type { TicketEventData } from '../api/tickets.ts';
import type { AgentCommandResult } from './agent-sandbox.ts';

type CommandEvent = Extract<TicketEventData, { type: 'command' }>;

/**
 * The `command` event of a command that ran in the ticket's sandbox: who ran it (`source`, and
 * the step and tool call of an agent's), how it ended, and its output (`output` when the caller
 * keeps less of it than the result holds; `outputBytes` is always the whole size).
 */
export function commandEvent(
  origin: Pick<CommandEvent, 'command' | 'source' | 'step' | 'toolCallId'>,
  result: AgentCommandResult,
  output: string = result.output,
): CommandEvent {
  return {
    type: 'command',
    step: origin.step,
    toolCallId: origin.toolCallId,
    source: origin.source,
    command: origin.command,
    exitCode: result.exitCode,
    durationMs: result.durationMs,
    timedOut: result.timedOut,
    output,
    outputBytes: result.outputBytes,
  };
}
