import type { AgentCommandResult } from '../../agents/agent-sandbox.ts';
import type { Evidence } from '../../api/tickets.ts';
import { capText } from './cap-text.ts';
import { parseTestCounts } from './parse-test-counts.ts';

/** What the evidence keeps of a test command's output. */
const maxTestLogBytes = 1024 * 1024;

/**
 * The test results of evidence (a ticket's, a plan's integration) from how the project's test
 * command ended in the sandbox: its exit, the counts read from its output, the log capped.
 */
export function testEvidence(
  command: string,
  result: AgentCommandResult,
): NonNullable<Evidence['tests']> {
  return {
    command,
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
    // Counted from the whole output: the summary is at its end, past any cut.
    counts: parseTestCounts(result.output),
    log: capText(result.output, maxTestLogBytes),
  };
}
