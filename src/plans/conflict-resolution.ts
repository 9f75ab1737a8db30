import type { Criterion } from '../api/tickets.ts';

/** The key of the ticket a plan gets when its integration conflicts. */
export const resolveIntegrationKey = 'resolve-integration';

/** A word for the shell: single-quoted, any quote in it closed, escaped and reopened. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The first task of a ticket started from a conflicting merge: what to resolve, and how. */
export function resolveConflictsTask(files: string[]): string {
  return `First resolve the merge conflicts in ${files.join(', ')}, keeping both sides' intent: each holds git's conflict markers (<<<<<<<, =======, >>>>>>>) around the two versions; edit them into one version that does what both meant, and remove every marker.`;
}

/** The criterion that checks no conflict marker is left in the files. */
export function noConflictMarkersCriterion(files: string[]): Criterion {
  return {
    text: `No merge conflict markers are left in ${files.join(', ')}`,
    check: `! grep -nE '^(<<<<<<<|>>>>>>>)' -- ${files.map(shellQuote).join(' ')}`,
  };
}

/** A request with the resolution as its first task (the rest as it was). */
export function withResolveTask(request: string, files: string[]): string {
  return `${resolveConflictsTask(files)}\n\nThen:\n\n${request}`;
}
