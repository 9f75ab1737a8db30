import { ApprovedCommitMismatchError } from '../../projects/project-errors.ts';
import { readBundleHeader } from './bundle-header.ts';

/**
 * Checks, on the host, the bundle an approval read out of the ticket's sandbox before it is
 * stored: exactly one ref, `refs/heads/<branch>`, at the commit the approval made, built on the
 * base commit alone. The sandbox is the agent's: a hook or a replaced git there could bundle
 * another commit, another branch or more of them. (What the commit holds, its tree and parent,
 * is checked where git reads it: `importBranch` in the project's workspace.)
 */
export function verifyApprovedBundle(
  bundle: Buffer,
  expected: { branch: string; commit: string; baseCommit?: string },
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
  if (header.lines.length !== 1 || header.lines[0]?.ref !== ref) {
    throw fail(`its bundle holds ${carried || 'no ref'}, not ${ref} alone`);
  }
  if (header.lines[0].commit !== expected.commit) {
    throw fail(`its bundle holds ${carried}, not ${expected.commit}`);
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
