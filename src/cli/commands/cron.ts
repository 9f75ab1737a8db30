import type { Command } from 'commander';
import type { CronJob, CronRun } from '../../api/cron.ts';
import { resolveMagsHome } from '../../config/mags-home.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { apiClient, remoteClient } from '../client/api-client.ts';
import { findLocalServer } from '../client/local-server.ts';
import { printJson, printTable } from '../output.ts';
import { parsePositiveNumber } from '../parse-options.ts';
import { describeCommand } from './jobs.ts';

interface AddFlags {
  schedule: string;
  timezone?: string;
  workspace?: string;
  persist?: boolean;
  net?: boolean;
  timeout?: string;
  allowOverlap?: boolean;
  catchUp?: string | boolean;
  json?: boolean;
}

export function registerCronCommands(program: Command): void {
  const cron = program
    .command('cron')
    .description(
      'Cron jobs: a command run as an ordinary job at the times of a schedule, while a server runs.',
    );

  cron
    .command('add')
    .description(
      'Add a cron job; each run is a job (mags logs, mags list) recorded in its history.',
    )
    .argument('<name>')
    .argument(
      '<command...>',
      "one argument runs through /bin/sh -c ('backup && echo ok'); several, after --, are an exact argv",
    )
    .requiredOption(
      '--schedule <cron>',
      'five fields ("0 3 * * *"), six with seconds first, or @hourly, @daily, ...',
    )
    .option('--timezone <zone>', 'the IANA time zone the schedule is read in (default UTC)')
    .option(
      '-w, --workspace <name>',
      'each run writes to this workspace (default: a fresh sandbox)',
    )
    .option('-p, --persist', 'sync the workspace to object storage after each run (as mags run -p)')
    .option('--net', "allow outbound network (never the host's loopback)")
    .option('--timeout <seconds>', "each run's wall-clock limit (default the server's, 3600)")
    .option('--allow-overlap', 'start a run even while the previous one still runs (no -w)')
    .option(
      '--catch-up [policy]',
      'times missed while no server ran: skip (default: recorded as missed) or once (run once at start); alone: once',
    )
    .option('--json', 'print the cron job as JSON')
    .action(async (name: string, words: string[], flags: AddFlags, command: Command) => {
      const catchUp = flags.catchUp === true ? 'once' : (flags.catchUp ?? 'skip');
      if (catchUp !== 'skip' && catchUp !== 'once') {
        throw new InvalidInputError(`Invalid --catch-up ${JSON.stringify(catchUp)}.`, {
          hint: 'Use --catch-up skip or --catch-up once.',
        });
      }
      const argv = words[0] === '--' ? words.slice(1) : words;
      const remote = await remoteClient(command);
      const home = resolveMagsHome();
      const localBefore = remote ? undefined : await findLocalServer(home);
      const mags = remote ?? (await apiClient(command));
      const created = await mags.cron.create({
        name,
        schedule: flags.schedule,
        timezone: flags.timezone,
        command: argv.length === 1 ? (argv[0] as string) : argv,
        workspace: flags.workspace,
        persist: flags.persist ?? false,
        network: flags.net ?? false,
        timeoutSeconds: flags.timeout ? parsePositiveNumber('--timeout', flags.timeout) : undefined,
        allowOverlap: flags.allowOverlap ?? false,
        catchUp,
      });
      if (flags.json) printJson(created);
      else {
        process.stderr.write(
          `mags: cron job ${created.name} added: ${created.schedule} (${created.timezone}), next run at ${created.nextRunAt ?? 'none'}\n`,
        );
      }
      if (remote) return;
      // Without a URL the host's local server fires it: say so, and what that means, in full
      // once per local server (the one this command started); after that, one line.
      const local = await findLocalServer(home);
      if (local && localBefore) {
        process.stderr.write(
          `mags: this host's local server (pid ${local.pid}) fires this one while it runs (mags server stop stops it).\n`,
        );
        return;
      }
      const which = local
        ? `this host's local server (pid ${local.pid}, started just now)`
        : "this host's local server";
      process.stderr.write(
        `mags: cron jobs fire only while a mags server runs; ${which} fires this one. It runs until \`mags server stop\` or the host restarts; after that, the next mags command starts it again, and the times missed meanwhile are handled by --catch-up (${catchUp}). To keep it firing, run \`mags server\` as a service (e.g. a systemd unit) and point the CLI at it with MAGS_URL.\n`,
      );
    });

  cron
    .command('list')
    .description('List your cron jobs.')
    .option('--json', 'print them as JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const cronJobs = await mags.cron.list();
      if (flags.json) return printJson({ cronJobs });
      printTable(
        ['NAME', 'SCHEDULE', 'TIMEZONE', 'STATE', 'NEXT RUN', 'LAST RUN', 'COMMAND'],
        cronJobs.map((each) => [
          each.name,
          each.schedule,
          each.timezone,
          each.paused ? 'paused' : 'active',
          each.nextRunAt ?? '-',
          each.lastRunAt ?? '-',
          describeCommand(each.command),
        ]),
      );
    });

  cron
    .command('show')
    .description('Show a cron job.')
    .argument('<name>')
    .option('--json', 'print it as JSON')
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const shown = await mags.cron.get(name);
      if (flags.json) return printJson(shown);
      printCronJob(shown);
    });

  cron
    .command('history')
    .description("A cron job's runs, newest first: time, status, job id, exit code, reason.")
    .argument('<name>')
    .option('--limit <n>', 'how many (default 20)')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { limit?: string; json?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const limit = flags.limit
        ? parsePositiveNumber('--limit', flags.limit, { integer: true })
        : 20;
      const page = await mags.cron.runs(name, { limit });
      if (flags.json) return printJson(page);
      printTable(
        ['TIME', 'STATUS', 'TRIGGER', 'JOB', 'JOB STATUS', 'EXIT', 'REASON'],
        page.runs.map((run) => [
          run.scheduledAt,
          run.skippedCount ? `skipped ×${run.skippedCount}` : run.status,
          run.trigger,
          run.jobId ?? '-',
          run.job?.status ?? '-',
          run.job?.exitCode === null || run.job === null ? '-' : String(run.job.exitCode),
          // A run that started has no reason of its own: its job's says why it failed.
          run.reason ?? run.job?.reason ?? '',
        ]),
      );
    });

  cron
    .command('remove')
    .description('Remove a cron job and its history; a run still going is left to finish.')
    .argument('<name>')
    .option('--stop', 'also stop its runs that are still queued or running')
    .action(async (name: string, flags: { stop?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      // Its runs still going, to say what happens to them (left to finish unless --stop).
      const { runs } = await mags.cron.runs(name, { limit: 20 });
      const going = runs
        .filter(
          (run) => run.jobId && (run.job?.status === 'running' || run.job?.status === 'queued'),
        )
        .map((run) => run.jobId as string);
      await mags.cron.remove(name, { stop: flags.stop ?? false });
      const still =
        going.length === 0
          ? ''
          : flags.stop
            ? `; stopped its run ${going.join(', ')}`
            : `; its run ${going.join(', ')} still going is left to finish (mags stop ${going[0]} ends it)`;
      process.stderr.write(`mags: cron job ${name} removed${still}\n`);
    });

  for (const [verb, what] of [
    [
      'pause',
      'Pause a cron job: no scheduled run until it is resumed (mags cron run still runs it).',
    ],
    ['resume', 'Resume a cron job from now: what passed while paused is not run.'],
  ] as const) {
    cron
      .command(verb)
      .description(what)
      .argument('<name>')
      .option('--json', 'print the cron job as JSON')
      .action(async (name: string, flags: { json?: boolean }, command: Command) => {
        const mags = await apiClient(command);
        const changed = await mags.cron[verb](name);
        if (flags.json) return printJson(changed);
        process.stderr.write(
          `mags: cron job ${name} ${changed.paused ? 'paused' : `active, next run at ${changed.nextRunAt ?? 'none'}`}\n`,
        );
      });
  }

  cron
    .command('run')
    .description(
      'Run a cron job now, under the same overlap rule (exit 1 when it did not start: skipped or refused).',
    )
    .argument('<name>')
    .option('--json', 'print the run as JSON')
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const run = await mags.cron.run(name);
      if (flags.json) printJson(run);
      else process.stderr.write(`mags: ${describeRun(run)}\n`);
      if (run.status !== 'started') process.exitCode = 1;
    });
}

function describeRun(run: CronRun): string {
  if (run.status === 'started') return `started job ${run.jobId} (mags logs -f ${run.jobId})`;
  return `${run.status.replaceAll('_', ' ')}: ${run.reason ?? ''}`;
}

function printCronJob(cron: CronJob): void {
  const rows: Array<[string, string]> = [
    ['name', cron.name],
    ['id', cron.id],
    ['schedule', `${cron.schedule} (${cron.timezone})`],
    ['command', describeCommand(cron.command)],
    ['workspace', cron.workspace ? `${cron.workspace}${cron.persist ? ' (persistent)' : ''}` : '-'],
    ['network', cron.network ? 'yes' : 'no'],
    ['timeout', cron.timeoutSeconds === null ? 'default' : `${cron.timeoutSeconds} s`],
    ['overlap', cron.allowOverlap ? 'allowed' : 'skipped'],
    ['catch-up', cron.catchUp],
    ['state', cron.paused ? 'paused' : 'active'],
    ['next run', cron.nextRunAt ?? '-'],
    ['last run', cron.lastRunAt ?? '-'],
    ['created', cron.createdAt],
  ];
  for (const [key, value] of rows) process.stdout.write(`${`${key}:`.padEnd(11)} ${value}\n`);
}
