import type { AgentCommandResult } from '../../agents/agent-sandbox.ts';
import type { Criterion, CriterionClaim, CriterionResult } from '../../api/tickets.ts';
import { capText } from './cap-text.ts';

/** What the evidence keeps of a check's output. */
const maxCheckOutputBytes = 64 * 1024;

/**
 * A criterion's result: its check run by `run` (in the sandbox whose files are judged: a ticket's,
 * a plan's integration) is `met` only when it exited 0 in time; without a check it is for a person
 * to judge (`needs_person`), never met on the agent's word (its `claim` is kept beside it).
 */
export async function checkCriterion(
  criterion: Criterion,
  index: number,
  options: { claim: CriterionClaim | null; run(command: string): Promise<AgentCommandResult> },
): Promise<CriterionResult> {
  if (!criterion.check) {
    return {
      criterion: index,
      text: criterion.text,
      check: null,
      status: 'needs_person',
      exitCode: null,
      timedOut: false,
      output: '',
      durationMs: 0,
      claim: options.claim,
    };
  }
  const ran = await options.run(criterion.check);
  return {
    criterion: index,
    text: criterion.text,
    check: criterion.check,
    status: ran.exitCode === 0 && !ran.timedOut ? 'met' : 'not_met',
    exitCode: ran.exitCode,
    timedOut: ran.timedOut,
    output: capText(ran.output, maxCheckOutputBytes),
    durationMs: ran.durationMs,
    claim: options.claim,
  };
}
