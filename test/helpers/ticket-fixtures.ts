/**
 * What ticket tests run on until (and besides) the real parts: a fixture project (a git
 * repository made inside a sandbox on a workspace the test prepares, forked per ticket through
 * the real WorkspaceManager), scripted agents (real `agent-v1` implementations that drive
 * `session.sandbox` and `emit` directly, no model), and evidence and approval done with git in the
 * ticket's sandbox. Everything acts in real sandboxes.
 */
import type { Agent, AgentOutcome, AgentSession, AgentTask } from '../../src/agents/agent.ts';
import type { AgentSandbox } from '../../src/agents/agent-sandbox.ts';
import { commandEvent } from '../../src/agents/command-event.ts';
import { runtimeAgentSandbox } from '../../src/agents/runtime-agent-sandbox.ts';
import type { Evidence } from '../../src/api/tickets.ts';
import type { MagsContext } from '../../src/context/mags-context.ts';
import { InvalidInputError, NotFoundError } from '../../src/errors/mags-error.ts';
import type { SandboxManager } from '../../src/sandboxes/sandbox-manager.ts';
import type { ProjectRecord } from '../../src/state/state-repository.ts';
import type { AssembleEvidenceInput } from '../../src/tickets/evidence/assemble-evidence.ts';
import type { TicketAgentParts, TicketProjects } from '../../src/tickets/ticket-parts.ts';

const git = 'git -c user.name=fixture -c user.email=fixture@example.com';

/** Runs a command and throws with its output unless it exits 0. */
export async function must(sandbox: AgentSandbox, command: string): Promise<string> {
  const result = await sandbox.exec(command, { timeoutMs: 60_000 });
  if (result.exitCode !== 0) {
    throw new Error(`${command} exited ${result.exitCode}: ${result.output}`);
  }
  return result.output;
}

/** Runs `action` in a throw-away long-lived sandbox on the owner's workspace. */
export async function inWorkspace<T>(
  sandboxes: SandboxManager,
  owner: string,
  workspace: string,
  action: (sandbox: AgentSandbox) => Promise<T>,
): Promise<T> {
  const name = `look-${Math.random().toString(36).slice(2, 8)}`;
  await sandboxes.create(owner, { name, workspace, sleep: false });
  const use = await sandboxes.use(owner, name);
  try {
    return await action(runtimeAgentSandbox(use.sandbox));
  } finally {
    use.release();
    await sandboxes.delete(owner, name);
  }
}

/**
 * A project `name` of `owner`: a workspace holding a git repository with one commit (a file
 * `greeting.txt` and a test that checks it), and a source of projects that knows it.
 */
export async function fixtureProject(
  context: MagsContext,
  sandboxes: SandboxManager,
  owner: string,
  name: string,
): Promise<{ project: ProjectRecord; projects: TicketProjects & { imported: string[] } }> {
  const workspace = `project-${name}`;
  const commit = await inWorkspace(sandboxes, owner, workspace, async (sandbox) => {
    await must(
      sandbox,
      `cd /workspace && git init -q -b main && echo hello > greeting.txt && printf 'grep -q hello greeting.txt\\n' > test.sh && ${git} add -A && ${git} commit -qm initial`,
    );
    return (await must(sandbox, 'cd /workspace && git rev-parse HEAD')).trim();
  });
  const at = new Date().toISOString();
  const project: ProjectRecord = {
    owner,
    name,
    repo: '/fixture',
    ref: null,
    workspace,
    commit,
    setupTree: null,
    setup: null,
    test: 'sh test.sh',
    model: null,
    config: {},
    status: 'ready',
    reason: null,
    createdAt: at,
    updatedAt: at,
  };
  // Forks of one source one at a time, as the ProjectManager serialises them per project.
  let forks: Promise<unknown> = Promise.resolve();
  const imported: string[] = [];
  const projects: TicketProjects & { imported: string[] } = {
    imported,
    async get(asOwner, asName) {
      if (asOwner !== owner || asName !== name) {
        throw new NotFoundError(`No project ${JSON.stringify(asName)}.`, {
          code: 'project_not_found',
        });
      }
      return project;
    },
    async forkForTicket(asOwner, asName, target) {
      await this.get(asOwner, asName);
      const fork = forks.then(() => context.workspaceManager.fork(owner, workspace, target));
      forks = fork.catch(() => {});
      await fork;
      return { workspace: target, commit, tree: null };
    },
    async importBranch(asOwner, asName, { bundle, branch }) {
      await this.get(asOwner, asName);
      imported.push(branch);
      return { commit: `${bundle.length}` };
    },
  };
  return { project, projects };
}

/** A scripted agent: `script` drives the sandbox and the events; the outcome is what it returns. */
export function scriptedAgent(
  script: (
    task: AgentTask,
    session: AgentSession,
  ) => Promise<Partial<AgentOutcome> & Pick<AgentOutcome, 'reason'>>,
): Agent & { tasks: AgentTask[] } {
  const tasks: AgentTask[] = [];
  return {
    specificationVersion: 'agent-v1',
    name: 'scripted',
    tasks,
    async run(task, session) {
      tasks.push(task);
      const outcome = await script(task, session);
      return {
        message: outcome.reason,
        usage: { inputTokens: 10, outputTokens: 5, costUsd: 0.001, steps: 1 },
        history: [...task.history, { attempt: task.history.length + 1 }],
        ...outcome,
      };
    },
  };
}

/** One command through the sandbox, reported like an agent's tool would. */
export async function agentCommand(session: AgentSession, command: string, step = 1) {
  const result = await session.sandbox.exec(command, { timeoutMs: 60_000, signal: session.signal });
  await session.emit(commandEvent({ command, source: 'agent', step, toolCallId: null }, result));
  return result;
}

/** Evidence by git and the criteria's checks in the ticket's sandbox (a small stand-in). */
export async function gitEvidence(input: AssembleEvidenceInput): Promise<Evidence> {
  const { sandbox, ticket, outcome } = input;
  const base = ticket.baseCommit ?? 'HEAD';
  const diff = await must(
    sandbox,
    `cd /workspace && GIT_INDEX_FILE=/tmp/evidence-index git read-tree ${base} && GIT_INDEX_FILE=/tmp/evidence-index git add -A && GIT_INDEX_FILE=/tmp/evidence-index git diff --cached ${base}`,
  );
  const files = [...diff.matchAll(/^diff --git a\/(\S+)/gm)].map((match) => ({
    path: match[1] as string,
    added: null,
    removed: null,
    binary: false,
  }));
  const criteria: Evidence['criteria'] = [];
  for (const [index, criterion] of ticket.criteria.entries()) {
    const claim = outcome.claims?.find((each) => each.criterion === index) ?? null;
    if (!criterion.check) {
      criteria.push({
        criterion: index,
        text: criterion.text,
        check: null,
        status: 'needs_person',
        exitCode: null,
        timedOut: false,
        output: '',
        durationMs: 0,
        claim,
      });
      continue;
    }
    const result = await sandbox.exec(criterion.check, { timeoutMs: 30_000 });
    const status = result.exitCode === 0 ? 'met' : 'not_met';
    await input.emit({ type: 'check', criterion: index, status, exitCode: result.exitCode });
    criteria.push({
      criterion: index,
      text: criterion.text,
      check: criterion.check,
      status,
      exitCode: result.exitCode,
      timedOut: result.timedOut,
      output: result.output,
      durationMs: result.durationMs,
      claim,
    });
  }
  const met = criteria.filter((each) => each.status === 'met').length;
  await input.emit({
    type: 'evidence',
    summary: `${met}/${criteria.length} criteria met, ${files.length} files changed`,
  });
  const finishedAt = new Date().toISOString();
  return {
    ticket: ticket.id,
    attempt: ticket.attempt,
    agentEnd: outcome.reason,
    agentMessage: outcome.message,
    summary: outcome.summary ?? null,
    baseCommit: ticket.baseCommit,
    tree: null,
    diff,
    diffStat: { files },
    tests: null,
    criteria,
    usage: ticket.usage,
    startedAt: input.startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(input.startedAt),
  };
}

/** The parts of a ticket server with `agent`, git evidence and a git commit for approval. */
export function fixtureParts(agent: Agent): TicketAgentParts {
  return {
    agent,
    checkModel(id) {
      const provider = id.split(':')[0];
      if (provider !== 'scripted') {
        throw new InvalidInputError(`Unknown model provider ${JSON.stringify(provider)}.`, {
          code: 'unknown_provider',
          hint: 'Known providers: scripted.',
        });
      }
    },
    resolveRole(name) {
      if (name !== 'developer' && name !== 'tester') {
        throw new InvalidInputError(`Unknown role ${JSON.stringify(name)}.`, {
          code: 'unknown_role',
          hint: 'Known roles: developer, tester.',
        });
      }
      return { name, systemPrompt: `You are the ${name}.`, tools: ['run_command', 'finish'] };
    },
    assembleEvidence: gitEvidence,
    async commitApproved(sandbox, options) {
      await must(
        sandbox,
        `cd /workspace && git checkout -q -b ${options.branch} && git add -A && git -c user.name='${options.authorName}' -c user.email='${options.authorEmail}' commit -qm '${options.message.split('\n')[0]}' && git bundle create -q /tmp/approved.bundle ${options.baseCommit}..${options.branch}`,
      );
      const commit = (await must(sandbox, 'cd /workspace && git rev-parse HEAD')).trim();
      return { commit, bundle: await sandbox.readFile('/tmp/approved.bundle') };
    },
  };
}
