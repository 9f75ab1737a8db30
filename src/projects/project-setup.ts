import type { ProjectConfig } from '../api/projects.ts';
import type { ProjectRecord, StateRepository } from '../state/state-repository.ts';
import { setupTreeRef, writeWorkingTree } from '../tickets/evidence/write-working-tree.ts';
import type { WorkspaceSession } from './workspace-session.ts';

/** What a failed setup's reason quotes of its output. */
const reasonTailCharacters = 2000;

type SettledFields = Pick<ProjectRecord, 'setup' | 'test' | 'model'>;

/**
 * The project's setup, test and model after reading the repository's file: a value given as a
 * flag stays; one that came from the file (equal to what the file said before, or unset)
 * follows the file as it is now.
 */
export function settleProjectFields(
  project: SettledFields,
  previous: ProjectConfig,
  current: ProjectConfig,
): SettledFields {
  const follow = (field: keyof SettledFields) => {
    const value = project[field];
    if (value === null || value === (previous[field] ?? null)) return current[field] ?? null;
    return value;
  };
  return { setup: follow('setup'), test: follow('test'), model: follow('model') };
}

/**
 * Runs the setup once in /workspace (what it installs stays in the workspace: tickets fork it)
 * and records the outcome: `ready`, or `failed` with the exit code and the tail of the output.
 * A ready project records the tree of its files as the setup left them (`setupTree`): a lockfile
 * `npm install` wrote, a file it changed, are there before any agent starts, so a ticket's diff
 * is taken against this tree and its approved commit leaves them out.
 */
export async function setUpProject(
  repository: StateRepository,
  session: WorkspaceSession,
  project: ProjectRecord,
  onOutput: ((text: string) => void) | undefined,
): Promise<ProjectRecord> {
  let status: ProjectRecord['status'] = 'ready';
  let reason: string | null = null;
  if (project.setup !== null) {
    onOutput?.(`$ ${project.setup}\n`);
    const result = await session.run(['/bin/sh', '-c', project.setup], { onOutput });
    if (result.exitCode !== 0) {
      status = 'failed';
      const how = result.timedOut ? 'timed out' : `exited with code ${result.exitCode}`;
      reason = `setup ${how}: ${result.tail.slice(-reasonTailCharacters).trim()}`;
    }
  }
  let setupTree: string | null = null;
  if (status === 'ready' && project.commit !== null) {
    try {
      setupTree = await writeWorkingTree(session.sandbox, project.commit, { ref: setupTreeRef });
    } catch (error) {
      // Every ticket's diff would fail the same way (it reads the files by the same rules).
      status = 'failed';
      reason = `reading the files after the setup failed: ${(error as Error).message}`;
    }
  }
  const settled: ProjectRecord = {
    ...project,
    setupTree,
    status,
    reason,
    updatedAt: new Date().toISOString(),
  };
  await repository.updateProject(project.owner, project.name, {
    commit: settled.commit,
    setupTree,
    config: settled.config,
    setup: settled.setup,
    test: settled.test,
    model: settled.model,
    status,
    reason,
    updatedAt: settled.updatedAt,
  });
  return settled;
}
