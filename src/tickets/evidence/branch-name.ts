import { InvalidInputError } from '../../errors/mags-error.ts';

/**
 * Branch names of approved tickets (`mags/<ticket id>`): what the sandbox's git and the user's
 * git are given as `refs/heads/<branch>`, checked here first (git checks them again) so that
 * nothing else reaches a command line.
 */
const branchPattern = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

export function checkBranchName(branch: string): void {
  if (!branchPattern.test(branch) || branch.includes('..')) {
    throw new InvalidInputError(`${JSON.stringify(branch)} is not a branch name.`, {
      hint: 'Ticket branches are named mags/<ticket id>.',
    });
  }
}
