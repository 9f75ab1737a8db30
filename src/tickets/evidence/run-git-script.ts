import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import { shellQuote } from '../../config/shell-quote.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import {
  BaseCommitMissingError,
  GitCommandError,
  HiddenGitAttributesError,
  NotAGitRepositoryError,
} from './git-errors.ts';
import { gitScriptExit, gitScriptPreamble } from './git-script.ts';

/** The repository of a ticket's workspace, inside its sandbox. */
export const ticketRepository = '/workspace';

/** A commit id as git prints it (SHA-1 or SHA-256), or an abbreviation of one. */
const commitPattern = /^[0-9a-f]{4,64}$/;

/**
 * Runs a git script (after `gitScriptPreamble`, with `$base` set) in the sandbox's repository in
 * one command, and turns its failure exits into errors that say what happened. Returns stdout.
 */
export async function runGitScript(
  sandbox: AgentSandbox,
  input: {
    what: string;
    baseCommit: string;
    script: string;
    repository?: string;
    timeoutMs: number;
    signal?: AbortSignal;
    /** The script's own failure exits (beyond `gitScriptExit`'s), each the error it means. */
    failures?: Record<number, (output: string) => Error>;
  },
): Promise<string> {
  if (!commitPattern.test(input.baseCommit)) {
    throw new InvalidInputError(`${JSON.stringify(input.baseCommit)} is not a commit id.`, {
      hint: 'A base commit is the hexadecimal id git prints (git rev-parse HEAD).',
    });
  }
  const repository = input.repository ?? ticketRepository;
  const result = await sandbox.exec(
    `base=${shellQuote(input.baseCommit)}\n${gitScriptPreamble}${input.script}`,
    { timeoutMs: input.timeoutMs, cwd: repository, signal: input.signal },
  );
  if (result.exitCode === 0 && !result.timedOut) return result.output;
  if (result.timedOut) {
    throw new GitCommandError(
      input.what,
      result.exitCode,
      `timed out after ${input.timeoutMs} ms`,
      'The repository may be very large, or the sandbox overloaded; try again.',
    );
  }
  if (result.exitCode === gitScriptExit.notARepository) {
    throw new NotAGitRepositoryError(repository, {
      hint: "The ticket's workspace has no git repository (was its .git removed?): close the ticket and create a new one from the project.",
    });
  }
  if (result.exitCode === gitScriptExit.baseMissing) {
    throw new BaseCommitMissingError(input.baseCommit);
  }
  if (result.exitCode === gitScriptExit.hiddenAttributes) {
    const [setting = 'git attributes', ...rest] = result.output.split('\n');
    throw new HiddenGitAttributesError(setting, rest.join('\n'));
  }
  const failure = result.exitCode === null ? undefined : input.failures?.[result.exitCode];
  if (failure) throw failure(result.output);
  throw new GitCommandError(input.what, result.exitCode, result.output);
}
