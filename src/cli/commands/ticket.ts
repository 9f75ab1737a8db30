import type { Command } from 'commander';
import type { Budget, CreateTicketBody, Criterion, Ticket } from '../../api/tickets.ts';
import { parseDurationMs } from '../../config/duration.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import {
  renderEvidenceMarkdown,
  renderEvidenceText,
} from '../../tickets/evidence/render-evidence.ts';
import { parseAuthor } from '../../tickets/ticket-settings-environment.ts';
import { apiClient } from '../client/api-client.ts';
import { applyTicketBundle } from '../client/apply-ticket-bundle.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { withLocalServerEnvironmentHint } from '../client/local-server-environment.ts';
import { readTicketFile, ticketBody } from '../client/ticket-file.ts';
import { printJson, printTable } from '../output.ts';
import { parsePositiveNumber } from '../parse-options.ts';
import {
  costLine,
  newWatchState,
  renderTicket,
  renderTicketEvent,
  renderTimeline,
  terminalSafe,
  watchExitCode,
} from '../ticket-render.ts';

export function registerTicketCommands(program: Command): void {
  const ticket = program
    .command('ticket')
    .description(
      'Tickets: a request plus acceptance criteria, worked by an AI agent in a sandbox.',
    );

  // --criterion and --check pair up in the order given: commander calls these in argv order.
  let criteria: Criterion[] = [];
  let strayCheck: string | undefined;
  ticket
    .command('create')
    .description('Create a ticket of a project (a draft; --run queues it at once).')
    .option('-p, --project <name>', 'the project')
    .option('--title <text>', 'a one-line title')
    .option('--request <text>', 'what to do, in words')
    .option('--criterion <text>', 'an acceptance criterion (repeatable)', (text: string) => {
      criteria.push({ text });
      return criteria;
    })
    .option(
      '--check <command>',
      'a command that must exit 0, for the --criterion before it',
      (command: string) => {
        const last = criteria.at(-1);
        if (!last) strayCheck ??= command;
        else last.check = command;
        return command;
      },
    )
    .option(
      '--file <path>',
      'a ticket.md: YAML front matter (project, title, criteria, ...) and the request',
    )
    .option('--role <name>', 'developer, tester, reviewer, or one of the project')
    .option('--model <provider:model>', 'e.g. anthropic:claude-sonnet-4-5')
    .option('--max-steps <n>', 'budget: model steps')
    .option('--max-tokens <n>', 'budget: tokens')
    .option('--max-cost <usd>', 'budget: cost in USD')
    .option('--max-time <duration>', 'budget: wall time (90s, 30m, 2h)')
    .option('--run', 'queue it at once')
    .option('--json', 'print JSON')
    .action(async (flags, command: Command) => {
      const given = criteria;
      const stray = strayCheck;
      criteria = [];
      strayCheck = undefined;
      if (stray !== undefined) {
        throw new CommandUsageError(
          `--check ${JSON.stringify(stray)} comes before any --criterion.`,
          {
            hint: 'Each --check belongs to the --criterion before it: --criterion TEXT --check CMD.',
          },
        );
      }
      const file = flags.file ? await readTicketFile(flags.file) : {};
      const budget: Budget = { ...file.budget, ...budgetFlags(flags) };
      const body: Partial<CreateTicketBody> = {
        ...file,
        ...(flags.project && { project: flags.project }),
        ...(flags.title && { title: flags.title }),
        ...(flags.request && { request: flags.request }),
        ...(given.length > 0 && { criteria: given }),
        ...(flags.role && { role: flags.role }),
        ...(flags.model && { model: flags.model }),
        ...(Object.keys(budget).length > 0 && { budget }),
        ...(flags.run && { run: true }),
      };
      const mags = await apiClient(command);
      const created = await mags.tickets.create(ticketBody(body)).catch(async (error: unknown) => {
        throw await withLocalServerEnvironmentHint(error, command);
      });
      if (flags.json) return printJson(created);
      process.stdout.write(`${created.id}\n`);
      // A draft of a project that is not ready cannot run yet (`run` would be refused): say so.
      // Only a note: the ticket is made whatever the project's route answers.
      const project =
        created.status === 'draft'
          ? await mags.projects.get(created.project).catch(() => null)
          : null;
      const next =
        project && project.status !== 'ready'
          ? `its project ${project.name} is ${project.status}: once it is ready (mags project refresh ${project.name}), mags ticket run ${created.id}`
          : created.status === 'draft'
            ? `mags ticket run ${created.id}`
            : `mags ticket watch ${created.id}`;
      process.stderr.write(`mags: ticket ${created.id} is ${created.status}; ${next}\n`);
    });

  ticket
    .command('list')
    .description('List tickets, newest first.')
    .option('-p, --project <name>', 'only this project')
    .option('--status <status>', 'only this status')
    .option('--json', 'print JSON')
    .action(async (flags, command: Command) => {
      const mags = await apiClient(command);
      const tickets = await mags.tickets.list({ project: flags.project, status: flags.status });
      if (flags.json) return printJson(tickets);
      printTable(
        ['ID', 'PROJECT', 'STATUS', 'ATTEMPT', 'COST', 'TITLE'],
        tickets.map((each) => [
          each.id,
          each.project,
          each.status,
          String(each.attempt),
          `$${each.usage.costUsd.toFixed(2)}`,
          // A trigger's ticket title holds a payload's text: never raw to the terminal.
          terminalSafe(each.title),
        ]),
      );
    });

  const simple = (
    name: string,
    description: string,
    act: (
      mags: Awaited<ReturnType<typeof apiClient>>,
      id: string,
      flags: Record<string, string>,
    ) => Promise<Ticket>,
  ) =>
    ticket
      .command(name)
      .description(description)
      .argument('<id>')
      .option('--json', 'print JSON')
      .action(async (id: string, flags, command: Command) => {
        const mags = await apiClient(command);
        const result = await act(mags, id, flags);
        if (flags.json) return printJson(result);
        process.stdout.write(renderTicket(result));
      });

  simple('show', 'Show a ticket.', (mags, id) => mags.tickets.get(id));
  withBudgetFlags(
    simple(
      'run',
      'Queue the next attempt of a draft, failed or stopped ticket (--max-* raise its budget).',
      (mags, id, flags) => mags.tickets.run(id, budgetOption(flags)),
    ),
  );
  simple(
    'stop',
    'Stop a queued or running ticket (its evidence is still assembled).',
    (mags, id, flags) => mags.tickets.stop(id, { reason: flags.reason }),
  ).option('--reason <text>', 'why, recorded with who');
  simple(
    'approve',
    'Approve it: a commit on branch mags/<id> in the project repository.',
    (mags, id, flags) => {
      const author = flags.author ? parseAuthor(flags.author) : undefined;
      if (flags.author && !author) {
        throw new CommandUsageError(
          `--author ${JSON.stringify(flags.author)} is not Name <email>.`,
          {
            hint: 'For example: --author "Ada Lovelace <ada@example.com>".',
          },
        );
      }
      return mags.tickets.approve(id, {
        ...(flags.message && { message: flags.message }),
        ...(author && { authorName: author.name, authorEmail: author.email }),
      });
    },
  )
    .option('-m, --message <text>', 'the commit message (default: from the ticket)')
    .option(
      '--author <name-and-email>',
      'the commit\'s author, "Name <email>" (default: the server\'s)',
    );
  withBudgetFlags(
    simple(
      'request-changes',
      'Send it back: a new attempt with your feedback (--max-* raise its budget).',
      (mags, id, flags) => {
        if (!flags.message) throw new CommandUsageError('Say what to change: -m TEXT.');
        return mags.tickets.requestChanges(id, flags.message, budgetOption(flags));
      },
    ).option('-m, --message <text>', 'the feedback'),
  );
  simple('close', 'Close it; its workspace is deleted after the retention period.', (mags, id) =>
    mags.tickets.close(id),
  );

  ticket
    .command('comment')
    .description(
      'Comment on a ticket; a running agent reads it at its next step, otherwise the next attempt does.',
    )
    .argument('<id>')
    .argument('<text...>')
    .action(async (id: string, words: string[], _flags, command: Command) => {
      const mags = await apiClient(command);
      await mags.tickets.comment(id, words.join(' '));
      process.stderr.write(`mags: comment added to ${id}\n`);
    });

  ticket
    .command('watch')
    .description(
      'Follow a ticket live: model text, commands, file changes, checks, cost. Exits 1 if it ends failed, 3 if stopped.',
    )
    .argument('<id>')
    .option('--after <event-id>', 'start after this event (default: from the first)')
    .option('--json', 'one JSON event per line')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      const state = newWatchState();
      const after = flags.after
        ? parsePositiveNumber('--after', flags.after, { integer: true })
        : 0;
      for await (const event of mags.tickets.events(id, { after, follow: true })) {
        if (flags.json) printJson(event);
        else process.stdout.write(renderTicketEvent(event, state));
      }
      const final = await mags.tickets.get(id);
      process.exitCode = watchExitCode(final.status);
      if (flags.json) return;
      process.stdout.write(
        `${state.midText ? '\n' : ''}${final.id} is ${final.status}${final.reason ? `: ${terminalSafe(final.reason)}` : ''}\n`,
      );
      if (state.steps > 0) process.stdout.write(`${costLine(state)}\n`);
    });

  ticket
    .command('evidence')
    .description('The evidence of an attempt: criteria checked by the platform, tests, diff, cost.')
    .argument('<id>')
    .option('--attempt <n>', 'which attempt (default: the latest)')
    .option('--json', 'print JSON')
    .option('--markdown', 'print Markdown (for a pull request or a review)')
    .option('--diff', 'print the diff after the summary')
    .option('--timeline', 'print what happened when (status changes, commands, checks) after it')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      const attempt = flags.attempt
        ? parsePositiveNumber('--attempt', flags.attempt, { integer: true })
        : undefined;
      const evidence = await mags.tickets.evidence(id, attempt);
      if (flags.json) return printJson(evidence);
      // The evidence quotes the agent and what ran in its sandbox (its message and summary,
      // check and test output, the diff): escape sequences there could erase or rewrite lines of
      // what the reviewer reads. Text is for reading and always made safe; Markdown goes to a
      // pull request or a file as it is, and is made safe only on a terminal.
      if (flags.markdown) {
        const markdown = renderEvidenceMarkdown(evidence);
        return void process.stdout.write(process.stdout.isTTY ? terminalSafe(markdown) : markdown);
      }
      process.stdout.write(
        terminalSafe(renderEvidenceText(evidence, { diff: Boolean(flags.diff) })),
      );
      if (flags.timeline) process.stdout.write(`\n${renderTimeline(evidence)}`);
    });

  ticket
    .command('apply')
    .description('In your own checkout: fetch an approved ticket as branch mags/<id> (no network).')
    .argument('<id>')
    .option('--force', 'replace an existing mags/<id> branch with other commits')
    .action(async (id: string, flags: { force?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const ticket = await mags.tickets.get(id);
      const bundle = Buffer.from(await mags.tickets.bundle(id));
      const branch = ticket.branch ?? `mags/${id}`;
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
}

/** `--max-time`: `90s`, `30m`, `2h`, or plain seconds → milliseconds. */
function parseMaxTime(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined) {
    throw new InvalidInputError(`Invalid --max-time ${JSON.stringify(value)}.`, {
      hint: 'Use seconds, or 90s, 30m, 2h.',
    });
  }
  return ms;
}

/** The budget flags of `create`, `run` and `request-changes`. */
function withBudgetFlags(command: Command): Command {
  return command
    .option('--max-steps <n>', 'budget: model steps')
    .option('--max-tokens <n>', 'budget: tokens')
    .option('--max-cost <usd>', 'budget: cost in USD')
    .option('--max-time <duration>', 'budget: wall time (90s, 30m, 2h)');
}

/** The limits given as --max-* flags. */
function budgetFlags(flags: Record<string, string | undefined>): Budget {
  return {
    ...(flags.maxSteps && {
      maxSteps: parsePositiveNumber('--max-steps', flags.maxSteps, { integer: true }),
    }),
    ...(flags.maxTokens && {
      maxTokens: parsePositiveNumber('--max-tokens', flags.maxTokens, { integer: true }),
    }),
    ...(flags.maxCost && { maxCostUsd: parsePositiveNumber('--max-cost', flags.maxCost) }),
    ...(flags.maxTime && { maxWallMs: parseMaxTime(flags.maxTime) }),
  };
}

/** `{ budget }` for the API when a --max-* flag is given (a budget to merge into the ticket's). */
function budgetOption(flags: Record<string, string | undefined>): { budget?: Budget } {
  const budget = budgetFlags(flags);
  return Object.keys(budget).length > 0 ? { budget } : {};
}
