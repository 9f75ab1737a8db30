/**
 * What the tickets benchmark times: an instant scripted model (`date`, then `true` N times, then
 * finish) that notes when the loop calls it, an agent wrapper that notes when a tool result is
 * emitted, and a client that follows the ticket's events over SSE and notes when each arrives.
 * All in one process, so one clock.
 */

import { scriptedModel } from '../eval/scripted/scripted-model.ts';
import type { Agent } from '../src/agents/agent.ts';
import type { Mags } from '../src/sdk/mags.ts';

export class TicketTimings {
  readonly #modelCalls = new Map<string, number[]>();
  readonly #emitted = new Map<string, number>();
  readonly #latencies: number[] = [];

  modelCall(ticket: string, step: number, atMs: number): void {
    const calls = this.#modelCalls.get(ticket) ?? [];
    calls[step] = atMs;
    this.#modelCalls.set(ticket, calls);
  }

  emitted(ticket: string, toolCallId: string, atMs: number): void {
    this.#emitted.set(`${ticket} ${toolCallId}`, atMs);
  }

  /** A tool result the client received while following live (not replayed on connecting). */
  received(ticket: string, toolCallId: string, atMs: number, liveSinceMs: number): void {
    const emittedMs = this.#emitted.get(`${ticket} ${toolCallId}`);
    if (emittedMs !== undefined && emittedMs > liveSinceMs) this.#latencies.push(atMs - emittedMs);
  }

  /** Model call to model call around each `true` step (the first step's `date` left out). */
  stepRoundTripsMs(): number[] {
    return [...this.#modelCalls.values()].flatMap((calls) =>
      calls.slice(1, -1).map((atMs, index) => (calls[index + 2] ?? atMs) - atMs),
    );
  }

  eventLatenciesMs(): number[] {
    return this.#latencies;
  }
}

/** Step 0 prints the time the sandbox ran it; then `true` steps; then finish. */
export function benchModel(timings: TicketTimings, trueSteps: number) {
  return scriptedModel(({ step, ticketText }) => {
    const ticket = /Ticket (tkt_[A-Za-z0-9_-]+)/.exec(ticketText)?.[1] ?? 'unknown';
    timings.modelCall(ticket, step, performance.now());
    if (step === 0)
      return { toolCalls: [{ tool: 'run_command', input: { command: 'date +%s%N' } }] };
    if (step <= trueSteps)
      return { toolCalls: [{ tool: 'run_command', input: { command: 'true' } }] };
    return {
      toolCalls: [
        { tool: 'finish', input: { summary: 'done', claims: [{ criterion: 1, met: true }] } },
      ],
    };
  });
}

export function timedAgent(agent: Agent, timings: TicketTimings): Agent {
  return {
    specificationVersion: 'agent-v1',
    name: agent.name,
    run: (task, session) =>
      agent.run(task, {
        ...session,
        emit(event) {
          if (event.type === 'tool_result') {
            timings.emitted(task.ticket.id, event.toolCallId, performance.now());
          }
          return session.emit(event);
        },
      }),
  };
}

/**
 * Creates a draft ticket, follows its events, runs it, and waits for its end. Returns the time
 * from the `run` request to its first command running in the sandbox (that command printed the
 * sandbox's clock, the host's realtime clock).
 */
export async function runBenchTicket(
  mags: Mags,
  timings: TicketTimings,
  title: string,
): Promise<{ firstCommandMs: number }> {
  const ticket = await mags.tickets.create({
    project: 'bench',
    title,
    request: 'Run the commands, then finish.',
    criteria: [{ text: 'nothing to check', check: 'true' }],
    model: 'scripted:bench',
  });
  const requestedAtMs = performance.timeOrigin + performance.now();
  await mags.tickets.run(ticket.id);
  let firstCommandMs: number | undefined;
  let liveSinceMs: number | undefined;
  for await (const event of mags.tickets.events(ticket.id, { follow: true })) {
    liveSinceMs ??= performance.now();
    const { data } = event;
    if (data.type === 'tool_result') {
      timings.received(ticket.id, data.toolCallId, performance.now(), liveSinceMs);
    } else if (data.type === 'command' && data.source === 'agent' && firstCommandMs === undefined) {
      firstCommandMs = Number(BigInt(data.output.trim()) / 1000n) / 1000 - requestedAtMs;
    }
  }
  const ended = await mags.tickets.get(ticket.id);
  if (ended.status !== 'awaiting_review') {
    throw new Error(`the bench ticket ended ${ended.status}: ${ended.reason}`);
  }
  if (firstCommandMs === undefined) throw new Error('the bench ticket ran no command');
  return { firstCommandMs };
}
