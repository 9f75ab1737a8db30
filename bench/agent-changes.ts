/**
 * Issue 12: what reporting file changes from any tool costs per mutating step
 * (`src/agents/workspace-changes.ts`: one exec of a git snapshot script after each run_command,
 * write_file and edit_file), on a small repository in a namespace sandbox, beside the floor of
 * the same run: an exec of `true` on the same sandbox. The added cost per step is the snapshot
 * minus the exec floor; the per-step overhead target is ≤ 10 ms.
 */
import { startWorkspaceChanges } from '../src/agents/workspace-changes.ts';
import {
  initWorkspaceRepository,
  startAgentTestSandbox,
} from '../test/helpers/agent-test-sandbox.ts';
import { sandboxSkipReason } from '../test/helpers/test-home.ts';
import { measure, printRows, printTable } from './stats.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 100);
/** The small repository: this many files of a few lines each, in a few directories. */
const fileCount = 200;

export async function agentChangesBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## agent file changes: skipped (${skip})\n`);
    return;
  }
  const box = await startAgentTestSandbox();
  try {
    const made = await box.sandbox.exec(
      `for i in $(seq 1 ${fileCount}); do d=src/d$((i % 10)); mkdir -p $d; printf 'line %s\\n' $(seq 1 20) > $d/file$i.txt; done`,
      { timeoutMs: 60_000 },
    );
    if (made.exitCode !== 0) throw new Error(made.output);
    await initWorkspaceRepository(box.sandbox);
    let events = 0;
    const changes = await startWorkspaceChanges(box.sandbox, {
      emit: () => {
        events++;
      },
    });
    if (!changes.enabled) throw new Error('the workspace is not a git repository');
    const floor = await measure("exec 'true' on the sandbox", iterations, async () => {
      await box.sandbox.exec('true', { timeoutMs: 10_000 });
    });
    const unchanged = await measure('snapshot, nothing changed', iterations, async () => {
      await changes.record(1);
    });
    if (events !== 0) throw new Error(`${events} events for an unchanged repository`);
    let edits = 0;
    const oneFile = await measure(
      'change one file, then snapshot (1 file_change)',
      iterations,
      async () => {
        // The edit itself is left out: only the snapshot after it is timed.
        await box.sandbox.writeFile('src/d1/file1.txt', `edit ${edits++}\n`);
        const startedAt = performance.now();
        await changes.record(1);
        return performance.now() - startedAt;
      },
    );
    printTable(`agent file changes: a snapshot per mutating step (${fileCount} files)`, [
      { summary: floor },
      { summary: unchanged, floor, target: '≤ 10 ms over the floor' },
      { summary: oneFile, floor },
    ]);
    printRows(
      'agent file changes: added per mutating step (snapshot − exec floor, medians)',
      ['case', 'added ms', 'target'],
      [
        ['nothing changed', (unchanged.medianMs - floor.medianMs).toFixed(1), '≤ 10 ms'],
        ['one file changed', (oneFile.medianMs - floor.medianMs).toFixed(1), ''],
      ],
    );
  } finally {
    await box.cleanup();
  }
}
