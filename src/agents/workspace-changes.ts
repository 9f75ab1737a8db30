/**
 * What an agent changed in /workspace, whatever tool changed it (`write_file`, `edit_file`, or a
 * `run_command` that ran `sed -i`, a formatter or `rm`): one `file_change` event per changed path
 * with its diff. One mechanism for every tool: after each step that may change files, a small
 * script in the sandbox snapshots the working tree into a private index (`git add -A`, then
 * `git write-tree`) and, when the tree differs from the last snapshot, prints what changed between
 * the two trees (`git diff-tree`). One exec per snapshot; unchanged files are not hashed again
 * (the index keeps git's stat cache).
 *
 * The snapshot's objects go to a private object directory in the sandbox's /tmp that borrows the
 * repository's objects as an alternate, so the repository's own index, objects and refs are never
 * written (an agent's `git gc` cannot lose a snapshot either). Outside a git repository it is
 * off: no events and no error. Ignored files (node_modules, build output) are left out, as in the
 * evidence's diff.
 */
import type { TicketEventData } from '../api/tickets.ts';
import { shellQuote } from '../config/shell-quote.ts';
import type { AgentSandbox } from './agent-sandbox.ts';

/** The private index and object directory (one agent works a sandbox at a time). */
const privateDirectory = '/tmp/.mags-workspace-changes';
/** The repository whose changes are reported. */
const repository = '/workspace';
/** The most diff output one snapshot reads; the files past it get a note instead of a diff. */
const maxDiffOutputBytes = 2 * 1024 * 1024;
/** The most diff text one event carries. */
const maxDiffBytesPerFile = 64 * 1024;
/** The most `file_change` events one snapshot emits (a `notice` counts the rest). */
const maxEventsPerSnapshot = 1000;
const snapshotTimeoutMs = 60_000;

export interface WorkspaceChanges {
  /** Whether /workspace is a git repository (else `record` does nothing). */
  readonly enabled: boolean;
  /**
   * Snapshots the working tree and emits a `file_change` per path changed since the last
   * snapshot, attributed to `step`. Calls are serialised (tools may run in parallel).
   */
  record(step: number | null): Promise<void>;
}

/** A snapshot now (the attempt's start), from which `record` reports what changes. */
export async function startWorkspaceChanges(
  sandbox: AgentSandbox,
  options: { emit(event: TicketEventData): Promise<void> | void; signal?: AbortSignal },
): Promise<WorkspaceChanges> {
  const started = await sandbox
    .exec(startScript, { timeoutMs: snapshotTimeoutMs, cwd: repository, signal: options.signal })
    .catch(() => undefined);
  const match =
    started?.exitCode === 0
      ? /^objects (\/.*)\ntree ([0-9a-f]{40,64})$/m.exec(started.output)
      : null;
  if (!match?.[1] || !match[2]) return { enabled: false, record: async () => {} };
  const objects = match[1];
  let tree = match[2];
  let queue: Promise<void> = Promise.resolve();
  const snapshot = async (step: number | null) => {
    if (options.signal?.aborted) return;
    const result = await sandbox
      .exec(stepScript(objects, tree), {
        timeoutMs: snapshotTimeoutMs,
        cwd: repository,
        signal: options.signal,
      })
      .catch(() => undefined);
    // No tree (the repository removed, a timeout): nothing reported, the next snapshot compares
    // with the last good one. A tree but no diff (the last snapshot's objects gone with a wiped
    // /tmp): this step's changes go unreported, later ones compare with this tree.
    const treeLine = result ? /^tree ([0-9a-f]{40,64})\n/.exec(result.output) : null;
    if (!result || !treeLine?.[1]) return;
    tree = treeLine[1];
    const parsed = result.exitCode === 0 ? parseSnapshot(result.output) : undefined;
    if (!parsed) return;
    for (const event of fileChangeEvents(parsed, step)) await options.emit(event);
  };
  return {
    enabled: true,
    record(step) {
      const next = queue.then(() => snapshot(step));
      // A failed emit fails its own call, not the snapshots queued after it.
      queue = next.catch(() => {});
      return next;
    },
  };
}

const environment = `export GIT_INDEX_FILE=${privateDirectory}/index GIT_OBJECT_DIRECTORY=${privateDirectory}/objects
export GIT_NO_REPLACE_OBJECTS=1 GIT_TERMINAL_PROMPT=0 GIT_OPTIONAL_LOCKS=0
g() { git -c safe.directory='*' -c core.fsmonitor=false -c core.untrackedCache=true -c core.quotePath=false "$@" 2>/dev/null; }
`;

/**
 * The first snapshot: a fresh private index from a copy of the repository's own (its stat cache
 * saves hashing every file) with git's untracked cache on (later snapshots then read only the
 * directories that changed), the repository's objects as the alternate; prints
 * `objects <the repository's object directory>` and `tree <id>`.
 */
const startScript = `top=$(git -c safe.directory='*' rev-parse --show-toplevel 2>/dev/null) || exit 3
[ "$top" = "$(pwd -P)" ] || exit 3
objects=$(git -c safe.directory='*' rev-parse --git-path objects 2>/dev/null) || exit 3
index=$(git -c safe.directory='*' rev-parse --git-path index 2>/dev/null) || exit 3
objects=$(cd "$objects" && pwd -P) || exit 3
rm -rf ${privateDirectory} && mkdir -p ${privateDirectory}/objects || exit 3
if [ -f "$index" ]; then cp "$index" ${privateDirectory}/index || exit 3; fi
${environment}export GIT_ALTERNATE_OBJECT_DIRECTORIES="$objects"
g update-index --untracked-cache
g add -A || exit 3
tree=$(g write-tree) || exit 3
printf 'objects %s\\ntree %s\\n' "$objects" "$tree"
`;

/**
 * A later snapshot: `tree <id>`, then (when it differs from `previous`) what changed between the
 * two trees in one `diff-tree --raw -p -z`: a NUL-terminated `:<modes> <ids> <status>` and path per
 * file, a NUL, then the patch; all of it cut at `maxDiffOutputBytes`, and followed by `endMarker`
 * when it was not cut.
 */
function stepScript(objects: string, previous: string): string {
  return `${environment}export GIT_ALTERNATE_OBJECT_DIRECTORIES=${shellQuote(objects)}
previous=${shellQuote(previous)}
[ -d ${privateDirectory}/objects ] || mkdir -p ${privateDirectory}/objects || exit 3
g add -A || exit 3
tree=$(g write-tree) || exit 3
printf 'tree %s\\n' "$tree"
[ "$tree" = "$previous" ] && exit 0
{ g diff-tree -r -z --raw -p --no-renames --no-ext-diff --no-textconv --no-color "$previous" "$tree" && printf '\\0mags-diff-end'; } | head -c ${maxDiffOutputBytes}
`;
}

/** Ends a step script's diff output that was not cut (printed by the script's printf). */
const endMarker = '\0mags-diff-end';

interface Snapshot {
  tree: string;
  /** Changed paths with git's status letter (A, M, D, T), in diff-tree's order. */
  changes: Array<{ status: string; path: string }>;
  /** The patch's text, and whether it was cut. */
  patch: string;
  patchCut: boolean;
}

/** Reads a step script's output; undefined when it is not what the script prints. */
export function parseSnapshot(output: string): Snapshot | undefined {
  const match = /^tree ([0-9a-f]{40,64})\n/.exec(output);
  if (!match?.[1]) return undefined;
  const tree = match[1];
  let rest = output.slice(match[0].length);
  if (rest === '') return { tree, changes: [], patch: '', patchCut: false };
  const whole = rest.endsWith(endMarker);
  if (whole) rest = rest.slice(0, -endMarker.length);
  // The raw records' last NUL, then the NUL that separates them from the patch.
  const end = rest.indexOf('\0\0');
  const fields = (end === -1 ? rest : rest.slice(0, end + 1)).split('\0');
  // The last field is what follows the last NUL: empty, or a record cut in the middle.
  fields.pop();
  const changes: Snapshot['changes'] = [];
  for (let index = 0; index + 1 < fields.length; index += 2) {
    const status = fields[index]?.slice(-1) ?? '';
    changes.push({ status, path: fields[index + 1] ?? '' });
  }
  if (changes.length === 0) return undefined;
  const patch = end === -1 ? '' : rest.slice(end + 2);
  return { tree, changes, patch, patchCut: !whole };
}

/**
 * One event per changed path. The patch holds one `diff --git` section per path in the same
 * order, except a type change (a file become a symbolic link), which git shows as a deletion
 * and an addition: two sections for one path.
 */
export function fileChangeEvents(
  snapshot: Snapshot,
  step: number | null,
): Array<Extract<TicketEventData, { type: 'file_change' | 'notice' }>> {
  const sections = snapshot.patch.split(/^(?=diff --git )/m).filter((section) => section !== '');
  const events: Array<Extract<TicketEventData, { type: 'file_change' | 'notice' }>> = [];
  let next = 0;
  for (const [position, { status, path }] of snapshot.changes.entries()) {
    const count = status === 'T' ? 2 : 1;
    const own = sections.slice(next, next + count);
    next += count;
    if (position >= maxEventsPerSnapshot) continue;
    const complete = own.length === count && (!snapshot.patchCut || next < sections.length);
    events.push({
      type: 'file_change',
      step,
      path,
      change: status === 'A' ? 'created' : status === 'D' ? 'deleted' : 'modified',
      diff: complete
        ? capDiff(own.join(''))
        : `${own.join('')}${own.length > 0 ? '\n' : ''}[diff left out: this step's diff is over ${maxDiffOutputBytes} bytes; the evidence has the whole diff]`,
    });
  }
  const more = snapshot.changes.length - maxEventsPerSnapshot;
  if (more > 0) {
    events.push({
      type: 'notice',
      message: `${more} more files changed in this step (only the first ${maxEventsPerSnapshot} are logged; the evidence has the whole diff)`,
    });
  }
  return events;
}

function capDiff(diff: string): string {
  const bytes = Buffer.byteLength(diff);
  if (bytes <= maxDiffBytesPerFile) return diff;
  const kept = Buffer.from(diff).subarray(0, maxDiffBytesPerFile).toString('utf8');
  return `${kept}\n[diff cut at ${maxDiffBytesPerFile} of ${bytes} bytes; the evidence has the whole diff]`;
}
