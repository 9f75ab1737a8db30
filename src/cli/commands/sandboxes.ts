import type { Command } from 'commander';
import type { Mags } from '../../sdk/mags.ts';
import { addAllowOptions, allowOption } from '../allow-flags.ts';
import { apiClient } from '../client/api-client.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { jobEndNotes, jobExitCode, outputWriter } from '../client/job-exit.ts';
import { openShell } from '../client/open-shell.ts';
import {
  collect,
  commandArgv,
  parseEnvironment,
  parseLimitFlags,
  parsePositiveNumber,
} from '../parse-options.ts';

export function registerSandboxCommands(program: Command): void {
  addAllowOptions(program.command('new'))
    .description(
      'Start a long-lived sandbox for exec and shell (its workspace is NAME by default).',
    )
    .argument('<name>')
    .option('-w, --workspace <name>', 'the workspace it writes to (default: the sandbox name)')
    .option('-e, --ephemeral', 'keep nothing it writes')
    .option('--net', "allow outbound network (never the host's loopback)")
    .option('--cpus <n>', 'CPU limit in cores')
    .option('--memory <size>', 'memory limit: 512m, 2g (default 2g)')
    .option('--pids <n>', 'process-count limit (default 4096)')
    .option(
      '--disk <size>',
      "size of the workspace's disk: 512m, 20g (default 10g; an existing workspace's disk only grows)",
    )
    .option('--image <name>', 'base image (default "default")')
    .option('--no-sleep', 'never freeze it when idle (by default an idle sandbox sleeps)')
    .option(
      '--runtime <name>',
      "runtime to run on: namespace, qemu, kubernetes (default: the server's)",
    )
    .action(async (name: string, flags, command: Command) => {
      const mags = await apiClient(command);
      const sandbox = await mags.sandboxes.create({
        name,
        workspace: flags.workspace,
        ephemeral: flags.ephemeral,
        network: flags.net,
        image: flags.image,
        limits: parseLimitFlags(flags),
        sleep: flags.sleep,
        runtime: flags.runtime,
        ...allowOption(flags.allowHost, flags.allowCidr),
      });
      process.stderr.write(
        `mags: sandbox ${sandbox.name} is running${sandbox.workspace ? ` on workspace ${sandbox.workspace}` : ''}; mags shell ${name} / mags exec ${name} CMD\n`,
      );
    });

  program
    .command('set')
    .description('Change a sandbox: whether it sleeps (is frozen) when idle.')
    .argument('<name>')
    .option('--sleep', 'freeze it when idle; any use wakes it (the default)')
    .option('--no-sleep', 'never freeze it')
    .action(async (name: string, flags: { sleep?: boolean }, command: Command) => {
      if (flags.sleep === undefined) {
        throw new CommandUsageError('Nothing to set: give --sleep or --no-sleep.');
      }
      const mags = await apiClient(command);
      const sandbox = await mags.sandboxes.update(name, { sleep: flags.sleep });
      process.stderr.write(
        `mags: sandbox ${sandbox.name} ${sandbox.sleep ? 'sleeps when idle' : 'never sleeps'} (now ${sandbox.status})\n`,
      );
    });

  program
    .command('exec')
    .description(
      "Run a command in a sandbox and stream its output; the exit code is the command's.",
    )
    .argument('<name>')
    .argument('<command...>', 'one argument runs through /bin/sh -c; several are an exact argv')
    .option('--env <NAME=value>', 'set an environment variable (repeatable)', collect, [])
    .option('--cwd <path>', 'working directory (default /workspace)')
    .option('--timeout <seconds>', 'wall-clock limit (default 3600)')
    .option('-d, --detach', 'print the job id and return at once (follow with mags logs -f)')
    .passThroughOptions()
    .action(async (name: string, words: string[], flags, command: Command) => {
      const mags = await apiClient(command);
      const job = await mags.sandboxes.exec(name, commandArgv(words), {
        env: parseEnvironment(flags.env),
        cwd: flags.cwd,
        timeoutSeconds: flags.timeout ? parsePositiveNumber('--timeout', flags.timeout) : undefined,
      });
      if (flags.detach) {
        process.stdout.write(`${job.id}\n`);
        return;
      }
      process.exitCode = await followToExit(mags, job.id);
    });

  program
    .command('shell')
    .description('Open an interactive shell (a real terminal) in a sandbox.')
    .argument('<name>')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const mags = await apiClient(command);
      process.exitCode = await openShell(mags, name);
    });

  program
    .command('start')
    .description('Start a stopped sandbox again, on the same workspace.')
    .argument('<name>')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const mags = await apiClient(command);
      await mags.sandboxes.start(name);
      process.stderr.write(`mags: sandbox ${name} is running\n`);
    });

  program
    .command('delete')
    .description(
      'Stop and delete a sandbox (its workspace stays: mags workspace delete), or delete a finished job (job_...) and its output.',
    )
    .argument('<name-or-job-id>')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const mags = await apiClient(command);
      if (name.startsWith('job_')) {
        await mags.jobs.delete(name);
        process.stderr.write(`mags: job ${name} and its output deleted\n`);
        return;
      }
      await mags.sandboxes.delete(name);
      process.stderr.write(`mags: sandbox ${name} deleted\n`);
    });
}

/** Streams a job's output here until it ends; Ctrl-C stops the job. Returns its exit code. */
export async function followToExit(mags: Mags, id: string): Promise<number> {
  const onInterrupt = () => void mags.jobs.stop(id).catch(() => {});
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  try {
    const output = outputWriter();
    const job = await mags.jobs.logs(id, { follow: true, onOutput: output.write });
    for (const note of jobEndNotes(job, output.stderrTail()))
      process.stderr.write(`mags: ${note}\n`);
    return job.endReason ? jobExitCode({ ...job, endReason: job.endReason }) : 1;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
}
