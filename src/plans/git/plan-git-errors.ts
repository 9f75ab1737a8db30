import { ConflictError, InvalidInputError } from '../../errors/mags-error.ts';
import { objectIdPattern } from '../../tickets/evidence/git-script.ts';

/** An approved result's commit is not in the project's repository (approval puts it there). */
export class ResultCommitMissingError extends ConflictError {
  readonly ticket: string;
  readonly commit: string;
  constructor(ticket: string, commit: string, output: string) {
    super(
      `Ticket ${ticket}'s approved commit ${commit} is not in the project's repository: ${output.trim().slice(0, 500)}`,
      {
        code: 'result_commit_missing',
        hint: `Approving a ticket brings its commit into the project as mags/${ticket}; was the project deleted and made again since? Retry the ticket (mags plan retry PLAN TICKET) so that it is approved again.`,
      },
    );
    this.ticket = ticket;
    this.commit = commit;
  }
}

/** The plan's branch cannot be made from the integration: not on the base, or nothing on it. */
export class IntegrationCommitError extends ConflictError {
  readonly commit: string;
  readonly baseCommit: string;
  constructor(commit: string, baseCommit: string, problem: string) {
    super(`The plan's integration ${commit} cannot be approved: ${problem}.`, {
      code: 'integration_commit_invalid',
      hint: 'Integrate the plan again (its approved tickets merged on the commit it started from), then approve that.',
    });
    this.commit = commit;
    this.baseCommit = baseCommit;
  }
}

/** A commit id given to the plan's git steps must be a whole one: it reaches a command line. */
export function checkObjectId(id: string, what: string): void {
  if (!objectIdPattern.test(id)) {
    throw new InvalidInputError(`${JSON.stringify(id)} is not a ${what} id.`, {
      hint: 'A commit or tree id is the full hexadecimal id git prints (git rev-parse).',
    });
  }
}
