/**
 * Issue 13, the git work of a plan (src/plans/git/), on the real namespace runtime in this
 * process: a dependent ticket's start from its dependencies' results (`forkMerged` of 1, 2 and 8
 * approved results) and a plan's integration (8 results merged, diff, test command `true`),
 * beside the floor measured in the same run: a ticket's plain fork of the project workspace
 * (`forkForTicket`). A 200-file project whose setup writes a file, as the tests use.
 */
import { join } from 'node:path';
import { createFixtureRepository } from '../eval/fixture-repository.ts';
import { createMagsContext } from '../src/context/mags-context.ts';
import { ProjectPlanGit } from '../src/plans/git/project-plan-git.ts';
import type { ApprovedResult } from '../src/plans/plan-parts.ts';
import { ProjectManager } from '../src/projects/project-manager.ts';
import { SandboxManager } from '../src/sandboxes/sandbox-manager.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import { approveResult } from '../test/helpers/approve-result.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { measure, printTable } from './stats.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 10);
const owner = 'bench';
const fileCount = 200;
const resultCount = 8;

export async function planGitBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## plans: git steps skipped (${skip})\n`);
    return;
  }
  const testHome = await createTestHome();
  const context = createMagsContext({ ...process.env, MAGS_HOME: testHome.home });
  const repository = createSqliteStateRepository(join(testHome.home, 'state.db'));
  const sandboxes = new SandboxManager({ context, repository, sleepAfterMs: 0 });
  const projects = new ProjectManager({ context, repository, sandboxes, roots: [testHome.home] });
  const planGit = new ProjectPlanGit({ context, repository, projects });
  const workspaces = context.workspaceManager.withRecords(repository);
  try {
    const fixture = await createFixtureRepository(
      'plans',
      Array.from({ length: fileCount }, (_, index) => ({
        path: `src/file-${index}.txt`,
        content: Buffer.from(`line of file ${index}\n`),
      })),
      testHome.home,
    );
    const project = await projects.create(owner, {
      name: 'bench',
      repo: fixture.path,
      setup: 'echo x > generated.txt',
      test: 'true',
    });
    if (project.status !== 'ready') throw new Error(`the project is ${project.status}`);
    const results: ApprovedResult[] = [];
    for (let index = 0; index < resultCount; index++) {
      const base = await projects.forkForTicket(owner, 'bench', `result-${index}`);
      results.push(
        await approveResult({
          context,
          projects,
          owner,
          project: 'bench',
          key: `r${index}`,
          base,
          work: `echo changed >> src/file-${index}.txt`,
        }),
      );
    }
    let made = 0;
    /** Times `make` on a fresh target; the workspace is deleted after, untimed. */
    const timed = (make: (target: string) => Promise<unknown>) => async () => {
      const target = `target-${made++}`;
      const startedMs = performance.now();
      await make(target);
      const elapsedMs = performance.now() - startedMs;
      await workspaces.delete(owner, target);
      return elapsedMs;
    };
    const fork = await measure(
      'forkForTicket (a ticket from the project)',
      iterations,
      timed((target) => projects.forkForTicket(owner, 'bench', target)),
    );
    const rows: Parameters<typeof printTable>[1] = [{ summary: fork }];
    for (const count of [1, 2, resultCount]) {
      rows.push({
        summary: await measure(
          `forkMerged of ${count} result${count === 1 ? '' : 's'}`,
          iterations,
          timed((target) => planGit.forkMerged(owner, 'bench', target, results.slice(0, count))),
        ),
        floor: fork,
      });
    }
    rows.push({
      summary: await measure(
        `integrate ${resultCount} results (diff, test: true)`,
        iterations,
        timed((target) =>
          planGit.integrate(owner, 'bench', target, {
            baseCommit: project.commit ?? '',
            results,
          }),
        ),
      ),
      floor: fork,
    });
    printTable(
      `plans: a dependent's start and the integration (${fileCount}-file project, namespace runtime, same run)`,
      rows,
    );
  } finally {
    await sandboxes.shutdown();
    await repository.close();
    await testHome.cleanup();
  }
}
