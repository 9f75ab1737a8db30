import { ApprovedCommitMismatchError } from '../../projects/project-errors.ts';
import { readBundleHeader } from './bundle-header.ts';
import { reviewedRef } from './overlay-tree-script.ts';

/**
 * Checks, on the host, the bundle an approval read out of the ticket's sandbox before it is
 * stored: `refs/heads/<branch>` at the commit the approval made, built on the base commit alone;
 * beside it only `reviewedRef(branch)` at `reviewedCommit` when one is given (a setup changed
 * files: the reviewed tree travels there, for the project's workspace to check the overlay). The sandbox is the agent's: a hook or a replaced git there could bundle
 * another commit, another branch or more of them. (What the commit holds, its tree and parent,
 * is checked where git reads it: `importBranch` in the project's workspace.)
 */
export function verifyApprovedBundle(
  bundle: Buffer,
  expected: {
    branch: string;
    commit: string;
    baseCommit?: string;
    reviewedCommit?: string | null;
  },
): void {
  const fail = (problem: string) => new ApprovedCommitMismatchError(expected.branch, problem);
  let header: ReturnType<typeof readBundleHeader>;
  try {
    header = readBundleHeader(bundle);
  } catch {
    throw fail('what came back is not a git bundle');
  }
  const ref = `refs/heads/${expected.branch}`;
  const carried = header.lines.map((line) => `${line.ref} at ${line.commit}`).join(', ');
  const wanted = new Map([[ref, expected.commit]]);
  if (expected.reviewedCommit) wanted.set(reviewedRef(expected.branch), expected.reviewedCommit);
  const refs = [...wanted.keys()].join(' and ');
  if (
    header.lines.length !== wanted.size ||
    header.lines.some((line) => !wanted.has(line.ref)) ||
    header.refs.size !== wanted.size
  ) {
    throw fail(`its bundle holds ${carried || 'no ref'}, not ${refs} alone`);
  }
  for (const line of header.lines) {
    if (line.commit !== wanted.get(line.ref)) {
      throw fail(`its bundle holds ${carried}, not ${[...wanted.values()].join(' and ')}`);
    }
  }
  const base = expected.baseCommit;
  // A base given abbreviated matches the whole id it begins.
  const others = header.prerequisites.filter(
    (prerequisite) => !prerequisite.startsWith(base ?? ''),
  );
  if (base !== undefined && others.length > 0) {
    throw fail(`its bundle builds on ${others.join(', ')}, not on the base commit ${base} alone`);
  }
}
