import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import { shellQuote } from '../../config/shell-quote.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import {
  BaseCommitMissingError,
  GitCommandError,
  HiddenGitAttributesError,
  NotAGitRepositoryError,
  SetupTreeMissingError,
} from './git-errors.ts';
import { gitScriptExit, gitScriptPreamble, objectIdPattern } from './git-script.ts';

/** The repository of a ticket's workspace, inside its sandbox. */
export const ticketRepository = '/workspace';

/** A commit id as git prints it (SHA-1 or SHA-256), or an abbreviation of one. */
const commitPattern = /^[0-9a-f]{4,64}$/;

/**
 * Runs a git script (after `gitScriptPreamble`, with `$base` and `$setup_tree` set, the latter
 * empty without one) in the sandbox's repository in one command, and turns its failure exits into errors that say what happened. Returns stdout.
 */
export async function runGitScript(
  sandbox: AgentSandbox,
  input: {
    what: string;
    baseCommit: string;
    /** The ticket's `baseTree` (the project's files after its setup), or none. */
    setupTree?: string | null;
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
  const setupTree = input.setupTree ?? '';
  if (setupTree !== '' && !objectIdPattern.test(setupTree)) {
    throw new InvalidInputError(`${JSON.stringify(setupTree)} is not a tree id.`, {
      hint: "A setup tree is the id git write-tree printed for the project's files after its setup.",
    });
  }
  const repository = input.repository ?? ticketRepository;
  const result = await sandbox.exec(
    `base=${shellQuote(input.baseCommit)}\nsetup_tree=${shellQuote(setupTree)}\n${gitScriptPreamble}${input.script}`,
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
  if (result.exitCode === gitScriptExit.setupTreeMissing) {
    throw new SetupTreeMissingError(setupTree, result.output);
  }
  const failure = result.exitCode === null ? undefined : input.failures?.[result.exitCode];
  if (failure) throw failure(result.output);
  throw new GitCommandError(input.what, result.exitCode, result.output);
}
