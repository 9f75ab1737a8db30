import { constants } from 'node:os';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors/mags-error.ts';
import type { Mags } from '../../sdk/mags.ts';
import { describeSync } from '../describe-sync.ts';
import { printJson } from '../output.ts';
import {
  collect,
  commandArgv,
  parseEnvironment,
  parseLimitFlags,
  parsePositiveNumber,
} from '../parse-options.ts';
import { syncProgressReporter } from '../sync-progress.ts';

interface RunFlags {
  workspace?: string;
  base?: string;
  ephemeral?: boolean;
  persist?: boolean;
  file: string[];
  env: string[];
  timeout?: string;
  cpus?: string;
  memory?: string;
  pids?: string;
  disk?: string;
  net?: boolean;
  image?: string;
  json?: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      "Run a command in a new sandbox and stream its output; the exit code is the command's.",
    )
    .argument(
      '<command...>',
      "one argument runs through /bin/sh -c ('npm test && echo ok'); several are an exact argv",
    )
    .option(
      '-w, --workspace <name>',
      'named workspace: everything the command writes is there next run',
    )
    .option('--base <name>', 'use an existing workspace read-only, below a throw-away layer')
    .option('-e, --ephemeral', 'discard every write (with -w NAME: same as --base NAME)')
    .option(
      '-p, --persist',
      'persistent workspace: restored from object storage when missing here, synced there after the run',
    )
    .option(
      '-f, --file <path>',
      'upload a file into /workspace before running (repeatable)',
      collect,
      [],
    )
    .option('--env <NAME=value>', 'set an environment variable (repeatable)', collect, [])
    .option(
      '--timeout <seconds>',
      'wall-clock limit; SIGTERM, then everything is killed 2 s later (default 3600)',
    )
    .option('--cpus <n>', "CPU limit in cores (default: all of this host's)")
    .option('--memory <size>', 'memory limit: 512m, 2g (default 2g)')
    .option('--pids <n>', 'process-count limit (default 4096)')
    .option(
      '--disk <size>',
      "size of the workspace's disk (or of the throw-away layer): 512m, 20g (default 10g; an existing workspace's disk only grows)",
    )
    .option('--net', "allow outbound network (never the host's loopback)")
    .option('--image <name>', 'base image (default "default")')
    .option('--json', 'print JSON lines: started, stdout/stderr chunks, exit')
    .passThroughOptions()
    .action(async (words: string[], flags: RunFlags, command: Command) => {
      const { remoteClient, runClient } = await import('../client/api-client.ts');
      // Uploads (-f) need this process's files: in-process, unless a remote server was chosen
      // (which refuses them with a hint).
      const mags = flags.file.length > 0 ? await remoteClient(command) : await runClient(command);
      process.exitCode = mags
        ? await runThroughServer(mags, words, flags)
        : await runAction(words, flags);
    });
}

async function runAction(words: string[], flags: RunFlags): Promise<number> {
  const [{ createMagsContext }, { runCommand }] = await Promise.all([
    import('../../context/mags-context.ts'),
    import('../../jobs/run-command.ts'),
  ]);
  const context = createMagsContext();
  const defaults = context.defaults;
  const given = parseLimitFlags(flags);
  const limits = {
    memoryMiB: given.memoryMiB ?? defaults.limits.memoryMiB,
    cpus: given.cpus ?? defaults.limits.cpus,
    pidsMax: given.pidsMax ?? defaults.limits.pidsMax,
    // Only a --disk given changes an existing workspace's disk; the default is for new ones.
    diskMiB: given.diskMiB,
  };

  const [workspace, version] = splitVersion(flags.workspace);
  const progress = syncProgressReporter('sync');
  const timeoutMs = flags.timeout
    ? parsePositiveNumber('--timeout', flags.timeout) * 1000
    : defaults.timeoutMs;
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  const sinks = flags.json
    ? { stdout: jsonLines('stdout'), stderr: jsonLines('stderr') }
    : { stdout: process.stdout, stderr: process.stderr };
  try {
    const result = await runCommand(context, {
      argv: commandArgv(words),
      workspace,
      version,
      base: flags.base,
      ephemeral: flags.ephemeral,
      persist: flags.persist,
      onSyncProgress: progress.update,
      files: flags.file,
      env: parseEnvironment(flags.env),
      timeoutMs,
      limits,
      network: flags.net ?? false,
      image: flags.image ?? defaults.image,
      signal: abort.signal,
      onStarted: (sandbox) => {
        for (const warning of sandbox.warnings) process.stderr.write(`mags: warning: ${warning}\n`);
        if (flags.json) printJson({ type: 'started', sandboxId: sandbox.id });
      },
      ...sinks,
    });
    const exitCode = result.exitCode ?? 128 + signalNumber(result.signal);
    const reason = result.timedOut
      ? `timed out after ${timeoutMs / 1000} s (raise it with --timeout)`
      : result.oomKilled
        ? `out of memory: a process was killed at the ${limits.memoryMiB} MiB limit (raise it with --memory)`
        : result.cancelled
          ? 'cancelled'
          : result.diskFull;
    progress.done();
    if (flags.json) {
      printJson({ type: 'exit', ...result, exitCode, reason });
    } else {
      if (reason) process.stderr.write(`mags: ${reason}\n`);
      if (result.sync)
        process.stderr.write(`mags: ${describeSync(workspace ?? '', result.sync)}\n`);
    }
    return result.timedOut ? 124 : exitCode;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
}

/** The same run through a server's API: output streams back live, the exit code is the same. */
async function runThroughServer(mags: Mags, words: string[], flags: RunFlags): Promise<number> {
  const { followToExit } = await import('./sandboxes.ts');
  if (flags.file.length > 0) {
    throw new InvalidInputError('-f uploads only work without a server yet.', {
      hint: 'With a server: mags new NAME, upload through the API (PUT /v1/sandboxes/NAME/files), then mags exec NAME CMD.',
    });
  }
  const [workspace, version] = splitVersion(flags.workspace);
  const job = await mags.run(commandArgv(words), {
    workspace,
    version,
    base: flags.base,
    ephemeral: flags.ephemeral,
    persist: flags.persist,
    env: parseEnvironment(flags.env),
    timeoutSeconds: flags.timeout ? parsePositiveNumber('--timeout', flags.timeout) : undefined,
    limits: parseLimitFlags(flags),
    network: flags.net,
    image: flags.image,
  });
  if (!flags.json) return followToExit(mags, job.id);
  printJson({ type: 'started', jobId: job.id });
  const stdout = jsonLines('stdout');
  const stderr = jsonLines('stderr');
  const ended = await mags.jobs.logs(job.id, {
    onOutput: (stream, data) => (stream === 'stdout' ? stdout : stderr).write(data),
  });
  printJson({ type: 'exit', ...ended });
  const { jobExitCode } = await import('../client/job-exit.ts');
  return jobExitCode(ended);
}

/** `name@3` → ['name', 3]. */
function splitVersion(value: string | undefined): [string | undefined, number | undefined] {
  if (value === undefined) return [undefined, undefined];
  const match = /^(.*)@(\d+)$/.exec(value);
  return match ? [match[1], Number(match[2])] : [value, undefined];
}

/** `--json` output: chunks as UTF-8 text when they are, base64 when they are binary. */
function jsonLines(stream: 'stdout' | 'stderr'): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = chunk.toString('utf8');
      const event = Buffer.from(text, 'utf8').equals(chunk)
        ? { type: stream, data: text }
        : { type: stream, base64: chunk.toString('base64') };
      process.stdout.write(`${JSON.stringify(event)}\n`, () => callback());
    },
  });
}

function signalNumber(signal: string | null): number {
  return (signal && constants.signals[signal as NodeJS.Signals]) || 1;
}
