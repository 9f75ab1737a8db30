import type { Command } from 'commander';
import type { Job, SandboxInfo } from '../../api/schemas.ts';
import { apiClient } from '../client/api-client.ts';
import { jobEndNotes, outputWriter } from '../client/job-exit.ts';
import { printJson, printTable } from '../output.ts';
import { parsePositiveNumber } from '../parse-options.ts';

const isJobId = (value: string) => value.startsWith('job_');

export function registerJobCommands(program: Command): void {
  program
    .command('list')
    .description('List jobs, newest first (or sandboxes with --sandboxes).')
    .option('--sandboxes', 'list long-lived sandboxes instead')
    .option('--status <status>', 'only jobs in this state: queued running succeeded failed stopped')
    .option('-w, --workspace <name>', 'only jobs on this workspace')
    .option('--limit <n>', 'how many (default 20)')
    .option('--json', 'print JSON')
    .action(async (flags, command: Command) => {
      const mags = await apiClient(command);
      if (flags.sandboxes) {
        const sandboxes = await mags.sandboxes.list();
        if (flags.json) return printJson(sandboxes);
        return printSandboxes(sandboxes);
      }
      const page = await mags.jobs.list({
        status: flags.status,
        workspace: flags.workspace,
        limit: flags.limit ? parsePositiveNumber('--limit', flags.limit, { integer: true }) : 20,
      });
      if (flags.json) return printJson(page);
      printTable(
        ['ID', 'STATUS', 'EXIT', 'WORKSPACE', 'RUNTIME', 'CREATED', 'COMMAND'],
        page.jobs.map((job) => [
          job.id,
          job.status,
          job.exitCode === null ? '-' : String(job.exitCode),
          job.sandbox ? `(${job.sandbox})` : (job.workspace ?? '-'),
          job.runtime,
          job.createdAt,
          // A cron job's run says so (`mags cron history NAME` lists them).
          job.origin
            ? `[${job.origin}] ${describeCommand(job.command)}`
            : describeCommand(job.command),
        ]),
      );
    });

  program
    .command('status')
    .description('Show a job (job_...) or a sandbox (by name).')
    .argument('<id-or-name>')
    .option('--json', 'print JSON')
    .action(async (target: string, flags: { json?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const value = isJobId(target)
        ? await mags.jobs.get(target)
        : await mags.sandboxes.get(target);
      if (flags.json) return printJson(value);
      for (const [key, field] of Object.entries(value)) {
        const shown = Array.isArray(field) ? describeCommand(field) : String(field ?? '-');
        process.stdout.write(`${`${key}:`.padEnd(12)} ${shown}\n`);
      }
    });

  program
    .command('logs')
    .description("A job's output (stdout to stdout, stderr to stderr); -f follows it live.")
    .argument('<id>')
    .option('-f, --follow', 'keep streaming until the job ends')
    .option('--offset <bytes>', 'start at this byte offset of the output')
    .action(async (id: string, flags: { follow?: boolean; offset?: string }, command: Command) => {
      const mags = await apiClient(command);
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const output = outputWriter();
      const job = await mags.jobs
        .logs(id, {
          follow: flags.follow ?? false,
          offset: flags.offset ? Number.parseInt(flags.offset, 10) : 0,
          onOutput: output.write,
          signal: abort.signal,
        })
        .catch((error: unknown) => {
          if (abort.signal.aborted) return undefined;
          throw error;
        });
      if (job?.logsRemovedAt) {
        // An empty output would look like a job that printed nothing.
        process.stderr.write(
          `mags: the output of ${id} was removed at ${job.logsRemovedAt}: ${job.logsRemovedReason ?? 'log retention'}\n`,
        );
        process.exitCode = 1;
        return;
      }
      const notes = job && flags.follow ? jobEndNotes(job, output.stderrTail()) : [];
      for (const note of notes) process.stderr.write(`mags: ${note}\n`);
    });

  program
    .command('stop')
    .description('Stop a job (job_...) or a sandbox (by name; its workspace stays).')
    .argument('<id-or-name>')
    .action(async (target: string, _flags: unknown, command: Command) => {
      const mags = await apiClient(command);
      if (isJobId(target)) {
        const job = await mags.jobs.stop(target);
        // The end sentence, as `mags run` and `mags logs -f` print it (not the short `reason`).
        process.stderr.write(`mags: ${job.id} ${job.status}\n`);
        for (const note of jobEndNotes(job)) process.stderr.write(`mags: ${note}\n`);
      } else {
        await mags.sandboxes.stop(target);
        process.stderr.write(`mags: sandbox ${target} stopped\n`);
      }
    });
}

export function printSandboxes(sandboxes: SandboxInfo[]): void {
  printTable(
    ['NAME', 'STATUS', 'WORKSPACE', 'RUNTIME', 'CREATED', 'LAST ACTIVE'],
    sandboxes.map((sandbox) => [
      sandbox.name,
      sandbox.status,
      sandbox.workspace ?? '-',
      sandbox.runtime,
      sandbox.createdAt,
      sandbox.lastActiveAt,
    ]),
  );
}

/**
 * A command on one line of a table, at most 60 characters: a shell line (a string, or
 * `/bin/sh -c LINE`) as it is written, argv words quoted where needed; newlines become spaces.
 */
export function describeCommand(argv: Job['command'] | string): string {
  const text =
    typeof argv === 'string'
      ? argv
      : argv[0] === '/bin/sh' && argv[1] === '-c' && argv.length === 3
        ? (argv[2] as string)
        : argv.map((word) => (/^[\w./=:@-]+$/.test(word) ? word : JSON.stringify(word))).join(' ');
  const line = text.replace(/\s+/g, ' ');
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
