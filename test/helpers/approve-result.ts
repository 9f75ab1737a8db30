import type { AgentSandbox } from '../../src/agents/agent-sandbox.ts';
import type { MagsContext } from '../../src/context/mags-context.ts';
import type { ApprovedResult } from '../../src/plans/plan-parts.ts';
import type { ProjectManager } from '../../src/projects/project-manager.ts';
import { withWorkspaceSession } from '../../src/projects/workspace-session.ts';
import { takeDiff } from '../../src/tickets/evidence/take-diff.ts';
import { commitApproved } from '../../src/tickets/review/commit-approved.ts';
import { ownerWorkspaceName } from '../../src/workspaces/owner-workspace.ts';

/**
 * A ticket's result made by the real approval path, without an agent: `work` (a shell command)
 * run on a workspace that starts at `base` (a fork's commit and tree), the evidence's diff taken
 * against its base tree, `commitApproved` in a sandbox on it, then `ProjectManager.importBranch`
 * (which checks the commit again in the project workspace). `onDiff` sees the reviewed diff.
 */
export async function approveResult(
  input: {
    context: MagsContext;
    projects: Pick<ProjectManager, 'importBranch'>;
    owner: string;
    project: string;
    key: string;
    base: { workspace: string; commit: string; tree: string | null };
    work: string;
  },
  onDiff?: (diff: Awaited<ReturnType<typeof takeDiff>>) => void,
): Promise<ApprovedResult> {
  const { base } = input;
  const ticket = `tkt_${input.key}`;
  const branch = `mags/${ticket}`;
  const approved = await withWorkspaceSession(
    input.context,
    { workspace: ownerWorkspaceName(input.owner, base.workspace) },
    async (sandbox: AgentSandbox) => {
      const ran = await sandbox.exec(input.work, { timeoutMs: 60_000, cwd: '/workspace' });
      if (ran.exitCode !== 0) throw new Error(`${input.work} failed: ${ran.output}`);
      const diff = await takeDiff(sandbox, base.commit, { setupTree: base.tree });
      onDiff?.(diff);
      const committed = await commitApproved(sandbox, {
        baseCommit: base.commit,
        branch,
        message: `ticket ${input.key}`,
        authorName: 'Rita Reviewer',
        authorEmail: 'rita@example.com',
        tree: diff.tree,
        setupTree: base.tree,
      });
      return { ...committed, reviewed: diff.tree };
    },
  );
  const imported = await input.projects.importBranch(input.owner, input.project, {
    bundle: approved.bundle,
    branch,
    commit: approved.commit,
    baseCommit: base.commit,
    tree: approved.reviewed,
    setupTree: base.tree,
  });
  if (imported.commit !== approved.commit) throw new Error('importBranch made another commit');
  return { key: input.key, ticket, commit: approved.commit };
}
