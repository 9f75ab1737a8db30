import { type Command, Option } from 'commander';
import { renderPlanFile } from '../../api/plan-file.ts';
import type { CreatePlanBody, PlanBudget } from '../../api/plans.ts';
import { parseDurationMs } from '../../config/duration.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { parseAuthor } from '../../tickets/ticket-settings-environment.ts';
import { apiClient } from '../client/api-client.ts';
import { applyTicketBundle } from '../client/apply-ticket-bundle.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { withLocalServerEnvironmentHint } from '../client/local-server-environment.ts';
import { planSpecOf, readPlanFile } from '../client/plan-edits.ts';
import { withExamples } from '../help-examples.ts';
import { printJson, printTable } from '../output.ts';
import { parsePositiveNumber } from '../parse-options.ts';
import { renderPlanEvidence } from '../plan-evidence-render.ts';
import { nextStep, reportPlan } from '../plan-next-step.ts';
import {
  firstLine,
  formatUsd,
  plannerLine,
  planTicketWord,
  planWatchExitCode,
  renderPlan,
  renderPlanCriteria,
} from '../plan-render.ts';
import { terminalSafe } from '../ticket-render.ts';
import { registerPlanEditCommand } from './plan-edit.ts';
import { registerPlanWatchCommand } from './plan-watch.ts';

export function registerPlanCommands(program: Command): void {
  const plan = program
    .command('plan')
    .description(
      'Plans: a request split into tickets with dependencies, run in parallel by agents.',
    );
  withExamples(plan, [
    'mags plan create -p app "Add users: a table, an API, a page"',
    'mags plan create -p app --file plan.yaml',
    'mags plan show PLAN',
    'mags plan approve PLAN',
    'mags plan watch PLAN',
    'mags plan evidence PLAN',
    'mags plan apply PLAN',
  ]);

  withExamples(plan.command('create'), [
    'mags plan create -p app "Add a --dark flag with its styles and a test"',
    'mags plan create -p app --file plan.yaml --wait',
    'mags plan create -p app --file plan.yaml --auto --max-cost 5 --max-time 2h',
    'mags plan create -p app "Add users" --model anthropic:claude-sonnet-4-5',
  ])
    .description(
      'Plan a request to a project: a planner model writes the tickets (or --file gives them); ' +
        'shown as a draft to approve (--auto: run at once).',
    )
    .argument('[request]', 'what to do, in words (default with --file: its summary)')
    .option('-p, --project <name>', 'the project')
    .option('--file <path>', 'a plan.yaml (summary and tickets): no planner runs')
    .option(
      '--model <provider:model>',
      'the planner model (default: the project’s, then the server’s)',
    )
    .option('--auto', 'approve the plan as soon as it is written')
    .option(
      '--auto-approve',
      'approve each ticket whose criteria are all verified met, without a person',
    )
    .option('--max-parallel <n>', 'at most this many of its tickets at once')
    .option('--max-cost <usd>', 'plan budget: cost in USD, its tickets together')
    .option('--max-tokens <n>', 'plan budget: tokens, its tickets together')
    .option('--max-time <duration>', 'plan budget: wall time from approval (30m, 2h)')
    // The first name of --max-time, kept for scripts; `ticket create/run` say --max-time.
    .addOption(new Option('--max-wall <duration>').hideHelp())
    .option('--wait', 'wait until it is settled (a draft, blocked, awaiting review, or ended)')
    .option('--json', 'print JSON')
    .action(async (request: string | undefined, flags, command: Command) => {
      if (!flags.project) throw new CommandUsageError('Name the project: -p PROJECT.');
      const spec = flags.file ? await readPlanFile(flags.file) : undefined;
      const text = request ?? spec?.summary;
      if (!text) {
        throw new CommandUsageError('Say what to plan: mags plan create -p PROJECT "REQUEST".', {
          hint: 'Or give the plan itself: --file plan.yaml.',
        });
      }
      const budget = planBudgetFlags(flags);
      const body: CreatePlanBody = {
        project: flags.project,
        request: text,
        ...(flags.model && { model: flags.model }),
        ...(flags.auto && { auto: true }),
        ...(flags.autoApprove && { autoApprove: true }),
        ...(flags.maxParallel && {
          maxParallel: parsePositiveNumber('--max-parallel', flags.maxParallel, { integer: true }),
        }),
        ...(Object.keys(budget).length > 0 && { budget }),
        ...(spec && { spec }),
      };
      const mags = await apiClient(command);
      const created = await mags.plans.create(body).catch(async (error: unknown) => {
        throw await withLocalServerEnvironmentHint(error, command);
      });
      if (!flags.json) process.stdout.write(`${created.id}\n`);
      // The planner writes in the background: its tries are shown as they come, up to the draft
      // (or the run, with --auto), or to the end with --wait.
      const settled = await mags.plans.wait(created.id, {
        // Without --wait: up to the draft, or with --auto up to its run (an auto draft is only
        // a step: the server approves it next).
        ...(!flags.wait && {
          until: (plan) => plan.status !== 'planning' && !(plan.status === 'draft' && plan.auto),
        }),
        onEvent: (event) => {
          if (!flags.json && event.data.type === 'planner') {
            process.stderr.write(`mags: ${plannerLine(event.data)}\n`);
          }
        },
      });
      // The exit code as watch's, --json or not: the JSON printed, then the code.
      if (flags.wait || settled.status === 'failed') {
        process.exitCode = planWatchExitCode(settled.status);
      }
      if (flags.json) return printJson(settled);
      process.stdout.write(renderPlan(settled));
      process.stderr.write(`mags: plan ${settled.id} is ${settled.status}; ${nextStep(settled)}\n`);
    });

  withExamples(plan.command('list'), ['mags plan list', 'mags plan list -p app --status blocked'])
    .description('List plans, newest first.')
    .option('-p, --project <name>', 'only this project')
    .option('--status <status>', 'only this status')
    .option('--json', 'print JSON')
    .action(async (flags, command: Command) => {
      const mags = await apiClient(command);
      const plans = await mags.plans.list({ project: flags.project, status: flags.status });
      if (flags.json) return printJson(plans);
      printTable(
        ['ID', 'PROJECT', 'STATUS', 'TICKETS', 'COST', 'REQUEST'],
        plans.map((each) => [
          each.id,
          each.project,
          each.status,
          `${each.tickets.filter((ticket) => planTicketWord(ticket) === 'approved').length}/${each.tickets.length}`,
          formatUsd(each.usage.costUsd),
          terminalSafe(firstLine(each.request)).slice(0, 60),
        ]),
      );
    });

  withExamples(plan.command('show'), [
    'mags plan show PLAN',
    'mags plan show PLAN --yaml > plan.yaml',
  ])
    .description('Show a plan: its tickets by dependencies, their status and cost, and criteria.')
    .argument('<id>')
    .option('--json', 'print JSON')
    .option('--yaml', 'print the plan file (what mags plan edit and create --file take)')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      const found = await mags.plans.get(id);
      if (flags.json) return printJson(found);
      if (flags.yaml) {
        // The YAML library leaves C1 controls (U+009B, a one-byte CSI) in plain scalars: a
        // terminal gets them taken out; a pipe or file gets the plan file as it is.
        const yaml = renderPlanFile(planSpecOf(found));
        return void process.stdout.write(process.stdout.isTTY ? terminalSafe(yaml) : yaml);
      }
      // The project's default model, which its tickets without one run with (only shown).
      const project = await mags.projects.get(found.project).catch(() => null);
      const projectModel = project ? (project.model ?? project.config.model ?? null) : undefined;
      process.stdout.write(renderPlan(found, { projectModel }));
      if (found.tickets.length > 0) process.stdout.write(`\n${renderPlanCriteria(found)}`);
      // A plan that waits on a person ends with what to run.
      if (found.status === 'blocked' || found.status === 'stopped') {
        process.stderr.write(`mags: plan ${found.id} is ${found.status}; ${nextStep(found)}\n`);
      }
    });

  registerPlanEditCommand(plan);

  withExamples(plan.command('approve'), [
    'mags plan approve PLAN',
    'mags plan approve PLAN -m "Add users" --author "Ada Lovelace <ada@example.com>"',
  ])
    .description(
      'Approve a draft (its tickets start), or a plan awaiting review (branch mags/plan-<id>).',
    )
    .argument('<id>')
    .option(
      '-m, --message <text>',
      'the commit message of the plan’s branch (default: from the plan)',
    )
    .option('--author <name-and-email>', 'its author, "Name <email>" (default: the server’s)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags, command: Command) => {
      const author = flags.author ? parseAuthor(flags.author) : undefined;
      if (flags.author && !author) {
        throw new CommandUsageError(
          `--author ${JSON.stringify(flags.author)} is not Name <email>.`,
          {
            hint: 'For example: --author "Ada Lovelace <ada@example.com>".',
          },
        );
      }
      const mags = await apiClient(command);
      const approved = await mags.plans.approve(id, {
        ...(flags.message && { message: flags.message }),
        ...(author && { authorName: author.name, authorEmail: author.email }),
      });
      reportPlan(approved, flags.json);
    });

  const budgetFlags = (command: Command) =>
    command
      .option('--max-steps <n>', 'the ticket’s budget: model steps')
      .option('--max-tokens <n>', 'the ticket’s budget: tokens')
      .option('--max-cost <usd>', 'the ticket’s budget: cost in USD')
      .option('--max-time <duration>', 'the ticket’s budget: wall time (90s, 30m, 2h)');
  budgetFlags(
    withExamples(plan.command('retry'), [
      'mags plan retry PLAN api',
      'mags plan retry PLAN api --max-steps 80 --max-time 1h',
      'mags plan retry PLAN resolve-integration',
    ])
      .description(
        'Run a failed, stopped or blocked ticket of the plan again (by key or ticket id).',
      )
      .argument('<id>')
      .argument('<ticket>'),
  )
    .option('--no-resolve', 'a ticket in conflict: merge again instead of resolving the conflict')
    .option('--json', 'print JSON')
    .action(async (id: string, ticket: string, flags, command: Command) => {
      const budget = {
        ...(flags.maxSteps && {
          maxSteps: parsePositiveNumber('--max-steps', flags.maxSteps, { integer: true }),
        }),
        ...(flags.maxTokens && {
          maxTokens: parsePositiveNumber('--max-tokens', flags.maxTokens, { integer: true }),
        }),
        ...(flags.maxCost && { maxCostUsd: parsePositiveNumber('--max-cost', flags.maxCost) }),
        ...(flags.maxTime && { maxWallMs: parseWallTime('--max-time', flags.maxTime) }),
      };
      const mags = await apiClient(command);
      const retried = await mags.plans.retry(id, ticket, {
        ...(Object.keys(budget).length > 0 && { budget }),
        ...(flags.resolve === false && { resolve: false }),
      });
      reportPlan(retried, flags.json);
    });

  withExamples(plan.command('stop'), ['mags plan stop PLAN --reason "wrong approach"'])
    .description('Stop a plan: its queued and running tickets stop, nothing new starts.')
    .argument('<id>')
    .option('--reason <text>', 'why, recorded with who')
    .option('--json', 'print JSON')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      reportPlan(await mags.plans.stop(id, { reason: flags.reason }), flags.json);
    });

  withExamples(plan.command('close'), ['mags plan close PLAN'])
    .description('Close a plan (stopped first if it runs).')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      reportPlan(await mags.plans.close(id), flags.json);
    });

  withExamples(plan.command('evidence'), [
    'mags plan evidence PLAN',
    'mags plan evidence PLAN --diff | less',
  ])
    .description(
      'The integration’s evidence: the combined diff stat, the project’s tests, every ticket’s criteria.',
    )
    .argument('<id>')
    .option('--json', 'print JSON')
    .option('--diff', 'print the combined diff after the summary')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      const evidence = await mags.plans.evidence(id);
      if (flags.json) return printJson(evidence);
      // It quotes agents and what ran in sandboxes: escape sequences are taken out.
      process.stdout.write(
        terminalSafe(renderPlanEvidence(evidence, { diff: Boolean(flags.diff) })),
      );
    });

  withExamples(plan.command('apply'), [
    'cd my-checkout && mags plan apply PLAN && git merge mags/plan-PLAN',
  ])
    .description(
      'In your own checkout: an approved plan as branch mags/plan-<id>, from its bundle (downloaded ' +
        'from the server); touches no working tree and runs no git fetch from a remote.',
    )
    .argument('<id>')
    .option('--force', 'replace an existing mags/plan-<id> branch with other commits')
    .action(async (id: string, flags: { force?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const found = await mags.plans.get(id);
      const bundle = Buffer.from(await mags.plans.bundle(id));
      const branch = found.branch ?? `mags/plan-${id}`;
      const { commit } = await applyTicketBundle({
        cwd: process.cwd(),
        bundle,
        branch,
        force: flags.force,
      });
      process.stderr.write(
        `mags: branch ${branch} is at ${commit.slice(0, 12)} in this repository; merge it with: git merge ${branch}\n`,
      );
    });

  registerPlanWatchCommand(plan);
}

/** The plan-level budget flags of `create`. */
function planBudgetFlags(flags: Record<string, string | undefined>): PlanBudget {
  const wall = flags.maxTime ?? flags.maxWall;
  const name = flags.maxTime !== undefined ? '--max-time' : '--max-wall';
  return {
    ...(flags.maxCost && { maxCostUsd: parsePositiveNumber('--max-cost', flags.maxCost) }),
    ...(flags.maxTokens && {
      maxTokens: parsePositiveNumber('--max-tokens', flags.maxTokens, { integer: true }),
    }),
    ...(wall !== undefined && { maxWallMs: parseWallTime(name, wall) }),
  };
}

/** A wall time flag: `90s`, `30m`, `2h`, or plain seconds → milliseconds. */
function parseWallTime(flag: string, value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined) {
    throw new InvalidInputError(`Invalid ${flag} ${JSON.stringify(value)}.`, {
      hint: 'Use seconds, or 90s, 30m, 2h.',
    });
  }
  return ms;
}
