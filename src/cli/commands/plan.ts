import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parsePlanFile, renderPlanFile } from '../../api/plan-file.ts';
import type { CreatePlanBody, Plan, PlanBudget, PlanSpec } from '../../api/plans.ts';
import type { Criterion } from '../../api/tickets.ts';
import { parseDurationMs } from '../../config/duration.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { parseAuthor } from '../../tickets/ticket-settings-environment.ts';
import { apiClient } from '../client/api-client.ts';
import { applyTicketBundle } from '../client/apply-ticket-bundle.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { editInEditor } from '../client/edit-in-editor.ts';
import { withLocalServerEnvironmentHint } from '../client/local-server-environment.ts';
import { addCriterion, planSpecOf, removeTicket } from '../client/plan-edits.ts';
import { printJson, printTable } from '../output.ts';
import { parsePositiveNumber } from '../parse-options.ts';
import { renderPlanEvidence } from '../plan-evidence-render.ts';
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
import { registerPlanWatchCommand } from './plan-watch.ts';

type Client = Awaited<ReturnType<typeof apiClient>>;

export function registerPlanCommands(program: Command): void {
  const plan = program
    .command('plan')
    .description(
      'Plans: a request split into tickets with dependencies, run in parallel by agents.',
    );

  plan
    .command('create')
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
    .option('--max-wall <duration>', 'plan budget: wall time from approval (30m, 2h)')
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
        ...(!flags.wait && { until: (status) => status !== 'planning' }),
        onEvent: (event) => {
          if (!flags.json && event.data.type === 'planner') {
            process.stderr.write(`mags: ${plannerLine(event.data)}\n`);
          }
        },
      });
      if (flags.json) return printJson(settled);
      process.stdout.write(renderPlan(settled));
      process.stderr.write(`mags: plan ${settled.id} is ${settled.status}; ${nextStep(settled)}\n`);
      if (flags.wait || settled.status === 'failed') {
        process.exitCode = planWatchExitCode(settled.status);
      }
    });

  plan
    .command('list')
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

  plan
    .command('show')
    .description('Show a plan: its tickets by dependencies, their status and cost, and criteria.')
    .argument('<id>')
    .option('--json', 'print JSON')
    .option('--yaml', 'print the plan file (what mags plan edit and create --file take)')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      const found = await mags.plans.get(id);
      if (flags.json) return printJson(found);
      if (flags.yaml) return void process.stdout.write(renderPlanFile(planSpecOf(found)));
      process.stdout.write(renderPlan(found));
      if (found.tickets.length > 0) process.stdout.write(`\n${renderPlanCriteria(found)}`);
    });

  registerEditCommand(plan);

  plan
    .command('approve')
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
      report(approved, flags.json);
    });

  const budgetFlags = (command: Command) =>
    command
      .option('--max-steps <n>', 'the ticket’s budget: model steps')
      .option('--max-tokens <n>', 'the ticket’s budget: tokens')
      .option('--max-cost <usd>', 'the ticket’s budget: cost in USD');
  budgetFlags(
    plan
      .command('retry')
      .description(
        'Run a failed, stopped or blocked ticket of the plan again (by key or ticket id).',
      )
      .argument('<id>')
      .argument('<ticket>'),
  )
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
      };
      const mags = await apiClient(command);
      const retried = await mags.plans.retry(
        id,
        ticket,
        Object.keys(budget).length > 0 ? { budget } : {},
      );
      report(retried, flags.json);
    });

  plan
    .command('stop')
    .description('Stop a plan: its queued and running tickets stop, nothing new starts.')
    .argument('<id>')
    .option('--reason <text>', 'why, recorded with who')
    .option('--json', 'print JSON')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      report(await mags.plans.stop(id, { reason: flags.reason }), flags.json);
    });

  plan
    .command('close')
    .description('Close a plan (stopped first if it runs).')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      report(await mags.plans.close(id), flags.json);
    });

  plan
    .command('evidence')
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

  plan
    .command('apply')
    .description(
      'In your own checkout: fetch an approved plan as branch mags/plan-<id> (no network).',
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

/**
 * `mags plan edit ID`: the plan file in $VISUAL/$EDITOR, or `--file`, or quick edits
 * (`--remove KEY`, `--criterion KEY TEXT [--check CMD]`); a draft only (the server says so).
 */
function registerEditCommand(plan: Command): void {
  // --criterion takes KEY and TEXT; --check belongs to the --criterion before it. Commander calls
  // these in argv order, one value at a time.
  let criterionWords: string[] = [];
  let checks = new Map<number, string>();
  let strayCheck: string | undefined;
  plan
    .command('edit')
    .description(
      'Edit a draft plan: in $VISUAL/$EDITOR as YAML (like git commit), from --file, or by quick edits.',
    )
    .argument('<id>')
    .option('--file <path>', 'the whole plan from a plan.yaml (see mags plan show --yaml)')
    .option(
      '--remove <key>',
      'take this ticket out (repeatable)',
      (key: string, previous: string[] = []) => [...previous, key],
    )
    .option(
      '--criterion <key-and-text...>',
      'add a criterion to a ticket: --criterion KEY TEXT (repeatable)',
      (word: string) => {
        criterionWords.push(word);
        return criterionWords;
      },
    )
    .option(
      '--check <command>',
      'a command that must exit 0, for the --criterion before it',
      (check: string) => {
        const index = criterionWords.length / 2 - 1;
        if (criterionWords.length === 0 || !Number.isInteger(index)) strayCheck ??= check;
        else checks.set(index, check);
        return check;
      },
    )
    .option('--json', 'print JSON')
    .action(async (id: string, flags, command: Command) => {
      const words = criterionWords;
      const givenChecks = checks;
      const stray = strayCheck;
      criterionWords = [];
      checks = new Map();
      strayCheck = undefined;
      if (stray !== undefined) {
        throw new CommandUsageError(
          `--check ${JSON.stringify(stray)} comes before its --criterion KEY TEXT.`,
          {
            hint: 'Each --check belongs to the --criterion before it: --criterion KEY TEXT --check CMD.',
          },
        );
      }
      if (words.length % 2 !== 0) {
        throw new CommandUsageError('--criterion takes a ticket key and the criterion’s text.', {
          hint: 'For example: --criterion api "GET /users answers 200" --check "npm test" (quote the text).',
        });
      }
      const criteria: Array<{ key: string; criterion: Criterion }> = [];
      for (let index = 0; index < words.length / 2; index++) {
        const check = givenChecks.get(index);
        criteria.push({
          key: words[index * 2] as string,
          criterion: { text: words[index * 2 + 1] as string, ...(check && { check }) },
        });
      }
      const removals: string[] = flags.remove ?? [];
      const mags = await apiClient(command);
      let spec: PlanSpec;
      if (flags.file) {
        spec = await readPlanFile(flags.file);
      } else if (removals.length > 0 || criteria.length > 0) {
        spec = planSpecOf(await mags.plans.get(id));
        for (const key of removals) spec = removeTicket(spec, key);
        for (const { key, criterion } of criteria) spec = addCriterion(spec, key, criterion);
      } else {
        const saved = await editPlanInEditor(mags, id);
        if (!saved) {
          process.stderr.write(
            `mags: the plan file was saved unchanged; plan ${id} is as it was\n`,
          );
          return;
        }
        spec = saved;
      }
      const edited = await mags.plans.editSpec(id, spec);
      if (flags.json) return printJson(edited);
      process.stdout.write(renderPlan(edited));
      process.stderr.write(`mags: plan ${edited.id} edited; ${nextStep(edited)}\n`);
    });
}

/** The plan file in the user's editor; undefined when they saved it unchanged. */
async function editPlanInEditor(mags: Client, id: string): Promise<PlanSpec | undefined> {
  const found = await mags.plans.get(id);
  if (found.status !== 'draft') {
    throw new CommandUsageError(`Plan ${id} is ${found.status}: only a draft can be edited.`);
  }
  const before = renderPlanFile(planSpecOf(found), {
    header: `Plan ${id} of ${found.project}. Save and quit to apply; an unchanged file changes nothing.`,
  });
  const after = await editInEditor(before, { name: `${id}.yaml` });
  if (after === before) return undefined;
  return parsePlanFile(after, `${id}.yaml`);
}

/** What to do next with a plan in this status, for the line after a command. */
function nextStep(plan: Plan): string {
  switch (plan.status) {
    case 'draft':
      return `approve it: mags plan approve ${plan.id}, or edit it: mags plan edit ${plan.id}`;
    case 'planning':
    case 'running':
    case 'integrating':
      return `follow it: mags plan watch ${plan.id}`;
    case 'awaiting_review':
      return `review: mags plan evidence ${plan.id}, then mags plan approve ${plan.id}`;
    case 'approved':
      return `fetch branch ${plan.branch ?? `mags/plan-${plan.id}`}: mags plan apply ${plan.id}`;
    case 'blocked':
      return `${plan.reason ?? 'a ticket needs a person'}; then mags plan retry ${plan.id} TICKET`;
    case 'failed':
      return plan.reason ?? 'see mags plan show';
    default:
      return `see mags plan show ${plan.id}`;
  }
}

/** After an action: the plan's new status and what next, or the plan as JSON. */
function report(plan: Plan, json: boolean | undefined): void {
  if (json) {
    printJson(plan);
    return;
  }
  process.stderr.write(
    `mags: plan ${plan.id} is ${plan.status}; ${terminalSafe(nextStep(plan))}\n`,
  );
}

/** `--file plan.yaml`, read and parsed; errors name the file and the field. */
async function readPlanFile(path: string): Promise<PlanSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InvalidInputError(`Cannot read ${path}: ${(error as Error).message}.`);
  }
  return parsePlanFile(text, path);
}

/** The plan-level budget flags of `create`. */
function planBudgetFlags(flags: Record<string, string | undefined>): PlanBudget {
  let maxWallMs: number | undefined;
  if (flags.maxWall) {
    maxWallMs = parseDurationMs(flags.maxWall);
    if (maxWallMs === undefined) {
      throw new InvalidInputError(`Invalid --max-wall ${JSON.stringify(flags.maxWall)}.`, {
        hint: 'Use seconds, or 90s, 30m, 2h.',
      });
    }
  }
  return {
    ...(flags.maxCost && { maxCostUsd: parsePositiveNumber('--max-cost', flags.maxCost) }),
    ...(flags.maxTokens && {
      maxTokens: parsePositiveNumber('--max-tokens', flags.maxTokens, { integer: true }),
    }),
    ...(maxWallMs !== undefined && { maxWallMs }),
  };
}
