import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../src/config/package-paths.ts';
import { createMagsContext } from '../src/context/mags-context.ts';
import { localOwner } from '../src/workspaces/owner-workspace.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { measure, printTable } from './stats.ts';
import { writeNodeModules } from './workspace-sync.ts';

/**
 * Issue 11: `mags workspace fork` of a 10,000-file node_modules workspace (target: well under a
 * second), beside `cp -a` of the same tree on the same host disk, the copy a fork replaces. Every
 * fork freezes a layer: one file is written to the source before each, so none reuses the last.
 */
export async function workspaceForkBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## workspace fork: skipped (${skip})\n`);
    return;
  }
  const home = await createTestHome();
  try {
    const context = createMagsContext({ ...process.env, MAGS_HOME: home.home });
    const manager = context.workspaceManager;
    const source = await context.workspaces.ensure('bench', 'default');
    const shape = await writeNodeModules(source.upperDir, context.workspaces.idMapping.toHost(0));
    let forks = 0;
    const touchSource = async () => {
      const { upperDir } = await context.workspaces.open('bench');
      await writeFile(join(upperDir, `touched-${forks}`), 'x');
    };
    const fork = await measure(
      'fork (WorkspaceManager)',
      5,
      async () => {
        await touchSource();
        const startedAt = performance.now();
        await manager.fork(localOwner, 'bench', `fork-${forks++}`);
        return performance.now() - startedAt;
      },
      1,
    );
    const cli = await measure(
      'mags workspace fork (CLI, end to end)',
      5,
      async () => {
        await touchSource();
        const startedAt = performance.now();
        const result = spawnSync(
          process.execPath,
          [join(packageRoot(), 'bin', 'mags.js'), 'workspace', 'fork', 'bench', `fork-${forks++}`],
          { env: { ...process.env, MAGS_HOME: home.home }, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        if (result.status !== 0) throw new Error(`mags workspace fork failed: ${result.stderr}`);
        return performance.now() - startedAt;
      },
      1,
    );
    // The copy a fork saves: the same tree (now the source's bottom frozen layer) with cp -a.
    const { lowerDirs } = await context.workspaces.open('bench');
    const tree = lowerDirs.at(-1) as string;
    let copies = 0;
    const copy = await measure(
      'cp -a of the same tree',
      3,
      () => {
        const target = join(home.home, `copy-${copies++}`);
        const result = spawnSync('cp', ['-a', tree, target]);
        if (result.status !== 0) throw new Error(`cp -a failed: ${result.stderr}`);
      },
      1,
    );
    printTable(
      `workspace fork (${shape.files} files, ${(shape.bytes / 1e6).toFixed(0)} MB node_modules)`,
      [
        { summary: copy },
        { summary: fork, floor: copy, target: 'well under 1 s' },
        { summary: cli, floor: copy, target: 'well under 1 s' },
      ],
    );
  } finally {
    await home.cleanup();
  }
}
