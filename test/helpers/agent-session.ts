/** An AgentTask and an AgentSession for the agent's tests: events kept, comments queued. */

import type { AgentSession, AgentTask } from '../../src/agents/agent.ts';
import type { AgentSandbox } from '../../src/agents/agent-sandbox.ts';
import { builtinRoles } from '../../src/agents/builtin/builtin-roles.ts';
import type { TicketEventData } from '../../src/api/tickets.ts';

export function agentTestTask(overrides: Partial<AgentTask> = {}): AgentTask {
  return {
    ticket: {
      id: 'tkt_test',
      title: 'Say hello properly',
      request: 'hello.txt says "helo"; make it say "hello".',
      criteria: [{ text: 'hello.txt says hello', check: 'grep -qx hello hello.txt' }],
    },
    project: { name: 'demo', test: null },
    role: builtinRoles.developer as AgentTask['role'],
    model: 'mock:scripted',
    budget: { maxSteps: 20, maxTokens: 1_000_000, maxCostUsd: 10, maxWallMs: 600_000 },
    history: [],
    usageSoFar: { inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 },
    prices: {},
    ...overrides,
  };
}

export interface TestSession extends AgentSession {
  events: TicketEventData[];
  comments: string[];
  controller: AbortController;
  /** Called with each event as it is emitted (to act at a moment of the run). */
  onEvent?: (event: TicketEventData) => void;
}

export function agentTestSession(sandbox: AgentSandbox): TestSession {
  const controller = new AbortController();
  const session: TestSession = {
    sandbox,
    events: [],
    comments: [],
    controller,
    signal: controller.signal,
    emit(event) {
      session.events.push(event);
      session.onEvent?.(event);
    },
    takeComments() {
      return session.comments.splice(0);
    },
  };
  return session;
}
