import type { AgentOutcome } from '../../agents/agent.ts';
import type { AgentCommandResult, AgentSandbox } from '../../agents/agent-sandbox.ts';
import { commandEvent } from '../../agents/command-event.ts';
import type {
  CriterionResult,
  commandSources,
  Evidence,
  TicketEventData,
} from '../../api/tickets.ts';
import type { TicketRecord } from '../../state/state-repository.ts';
import { capText } from './cap-text.ts';
import { checkCriterion } from './check-criterion.ts';
import { summarizeEvidence } from './summarize-evidence.ts';
import { takeDiff } from './take-diff.ts';
import { testEvidence } from './test-evidence.ts';

export const defaultEvidenceTimeouts = { testMs: 15 * 60_000, checkMs: 5 * 60_000 };

/** What is kept of each output: in the evidence (stored) and in a `command` event (streamed). */
const maxEventOutputBytes = 256 * 1024;
export const maxDiffBytes = 4 * 1024 * 1024;

export interface AssembleEvidenceInput {
  sandbox: AgentSandbox;
  ticket: Pick<TicketRecord, 'id' | 'attempt' | 'criteria' | 'baseCommit' | 'usage'> &
    Partial<Pick<TicketRecord, 'baseTree'>>;
  /** The project's test command; null when it has none. */
  test: string | null;
  outcome: AgentOutcome;
  /** When this attempt started (ISO 8601). */
  startedAt: string;
  /** `command` (source test/check), `check` per criterion, then one `evidence`. */
  emit(event: TicketEventData): void | Promise<void>;
  timeouts?: { testMs?: number; checkMs?: number };
  signal?: AbortSignal;
  /** The repository in the sandbox (default /workspace). */
  repository?: string;
}

/**
 * The platform's own verdict on an attempt (GUIDE §5, "Evidence"), whatever the agent says: the
 * diff against the base commit, the project's test command and every criterion's check run in the
 * ticket's sandbox. A criterion is `met` only when its check exited 0; without a check it is for a
 * person to judge (`needs_person`), never met on the agent's word (its claim is kept beside it).
 */
export async function assembleEvidence(input: AssembleEvidenceInput): Promise<Evidence> {
  const { sandbox, ticket, outcome, signal } = input;
  const repository = input.repository;
  const testMs = input.timeouts?.testMs ?? defaultEvidenceTimeouts.testMs;
  const checkMs = input.timeouts?.checkMs ?? defaultEvidenceTimeouts.checkMs;

  // The diff first: the test command and the checks may write files (build output, coverage)
  // that are not the agent's work. Its tree id is kept in the evidence: approving commits it.
  const { diff, files, tree } = ticket.baseCommit
    ? await takeDiff(sandbox, ticket.baseCommit, {
        setupTree: ticket.baseTree,
        repository,
        signal,
      })
    : { diff: '', files: [], tree: null };

  const run = async (
    source: (typeof commandSources)[number],
    command: string,
    timeoutMs: number,
  ): Promise<AgentCommandResult> => {
    const result: AgentCommandResult = signal?.aborted
      ? {
          exitCode: null,
          output: 'not run: the ticket was stopped',
          outputBytes: 0,
          durationMs: 0,
          timedOut: false,
        }
      : await sandbox.exec(command, { timeoutMs, cwd: repository, signal });
    await input.emit(
      commandEvent(
        { command, source, step: null, toolCallId: null },
        result,
        capText(result.output, maxEventOutputBytes),
      ),
    );
    return result;
  };

  let tests: Evidence['tests'] = null;
  if (input.test) {
    tests = testEvidence(input.test, await run('test', input.test, testMs));
  }

  const criteria: CriterionResult[] = [];
  for (const [index, criterion] of ticket.criteria.entries()) {
    const claim = outcome.claims?.find((candidate) => candidate.criterion === index) ?? null;
    const result = await checkCriterion(criterion, index, {
      claim,
      run: (command) => run('check', command, checkMs),
    });
    criteria.push(result);
    await input.emit({
      type: 'check',
      criterion: index,
      status: result.status,
      exitCode: result.exitCode,
    });
  }

  const finishedAt = new Date();
  const diffStat = { files };
  const evidence: Evidence = {
    ticket: ticket.id,
    attempt: ticket.attempt,
    agentEnd: outcome.reason,
    agentMessage: outcome.message,
    summary: outcome.summary ?? null,
    baseCommit: ticket.baseCommit,
    tree,
    diff: capText(diff, maxDiffBytes),
    diffStat,
    tests,
    criteria,
    usage: ticket.usage,
    startedAt: input.startedAt,
    finishedAt: finishedAt.toISOString(),
    durationMs: Math.max(0, finishedAt.getTime() - Date.parse(input.startedAt)),
  };
  await input.emit({ type: 'evidence', summary: summarizeEvidence(evidence) });
  return evidence;
}
