import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import type { RunOptions } from '../../api/run-options.ts';
import type { Job, JobResult } from '../../api/schemas.ts';
import { defaultMaxUploadBytes } from '../../api/uploads.ts';
import { definedFields } from '../../config/defined-fields.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { sandboxEnvironment } from '../../sandboxes/sandbox-spec.ts';
import { validateWorkspaceName } from '../../workspaces/workspace-name.ts';
import { addAllowOptions, allowOption } from '../allow-flags.ts';
import type { LocalFile } from '../client/run-session.ts';
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
  runtime?: string;
  json?: boolean;
  allowHost: string[];
  allowCidr: string[];
}

export function registerRunCommand(program: Command): void {
  addAllowOptions(program.command('run'))
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
      'upload a file or directory into /workspace before running (repeatable)',
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
    .option(
      '--runtime <name>',
      "runtime to run on: namespace, qemu, kubernetes (default: the server's)",
    )
    .option('--json', 'print JSON lines: started, stdout/stderr chunks, exit')
    .addHelpText(
      'after',
      "\nEgress allow-list: mags run --allow-host registry.npmjs.org 'npm install left-pad'\n",
    )
    .passThroughOptions()
    .action(async (words: string[], flags: RunFlags, command: Command) => {
      // Not process.exit(): with a concurrent compile job waiting for a garbage collection, it
      // can hang forever in Node's platform shutdown (nodejs/node#54918, seen here in the 100 MB
      // output test); the ordinary end of the event loop disposes of the isolate first.
      process.exitCode = await runAction(words, flags, command);
    });
}

/**
 * A run is always a job: on the server the user chose, else on this host's local server when one
 * runs (its pool and warm sandboxes), else on a job system embedded in this process for this
 * one run. The output, the `--json` events and the exit code are the same on all three.
 */
async function runAction(words: string[], flags: RunFlags, command: Command): Promise<number> {
  const argv = commandArgv(words);
  const options = runOptionsFromFlags(flags);
  const files = await localFiles(flags.file);
  const { runClient } = await import('../client/api-client.ts');
  const mags = await runClient(command);
  const sessions = await import('../client/run-session.ts');
  const session = mags ? sessions.serverSession(mags) : await sessions.embeddedSession(options);
  let interrupts = 0;
  const onInterrupt = () => {
    // Ctrl-C stops the job (SIGTERM, then everything after the grace period); its end is still
    // followed and reported. One before the job exists stops it as soon as it does (below).
    interrupts += 1;
    if (!job) {
      if (interrupts > 1) process.exit(130);
      return;
    }
    if (interrupts === 1) stopping = session.stop(job.id).catch(() => {});
    else if (interrupts === 2) {
      // A second one leaves now, but an embedded run's sandbox (which would outlive this
      // process) goes first; a moment at most, and a third Ctrl-C does not wait for it.
      const leave = () => process.exit(130);
      void session
        .abandon(job.id)
        .catch(() => {})
        .then(leave);
      setTimeout(leave, 2000).unref();
    } else process.exit(130);
  };
  let stopping: Promise<void> | undefined;
  let job: Job | undefined;
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  const progress = syncProgressReporter('sync');
  try {
    job = await session.submit(argv, options, files);
    const jobId = job.id;
    if (interrupts > 0) stopping = session.stop(jobId).catch(() => {});
    const output = flags.json
      ? { write: jsonLine, stderrTail: () => '' }
      : (await import('../client/job-exit.ts')).outputWriter();
    const ended = await session.follow(jobId, {
      onOutput: output.write,
      onStarted: (sandboxId) => {
        if (flags.json) printJson({ type: 'started', jobId, sandboxId });
      },
      onSyncProgress: progress.update,
    });
    progress.done();
    await stopping;
    const result = {
      exitCode: ended.exitCode,
      signal: ended.signal,
      endReason: ended.endReason ?? 'failed',
      message: ended.message,
    } satisfies JobResult;
    const { jobEndNotes, jobExitCode } = await import('../client/job-exit.ts');
    if (flags.json) printJson({ type: 'exit', jobId: job.id, ...result });
    else {
      for (const note of jobEndNotes(result, output.stderrTail())) {
        process.stderr.write(`mags: ${note}\n`);
      }
    }
    return jobExitCode(result);
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
    await session.close();
  }
}

/** The flags as the API's run options (its schema's type); names and values checked here. */
function runOptionsFromFlags(flags: RunFlags): RunOptions {
  const [workspace, version] = splitVersion(flags.workspace);
  if (workspace !== undefined) validateWorkspaceName(workspace);
  if (flags.base !== undefined) validateWorkspaceName(flags.base);
  if (workspace !== undefined && flags.base !== undefined) {
    throw new InvalidInputError(
      'Use either -w (write to a workspace) or --base (read-only), not both.',
    );
  }
  const env = parseEnvironment(flags.env);
  sandboxEnvironment(env); // refuses bad names before anything starts
  const limits = definedFields(parseLimitFlags(flags));
  return {
    workspace,
    version,
    base: flags.base,
    ephemeral: flags.ephemeral,
    persist: flags.persist,
    env,
    timeoutSeconds: flags.timeout ? parsePositiveNumber('--timeout', flags.timeout) : undefined,
    limits: Object.keys(limits).length > 0 ? limits : undefined,
    network: flags.net,
    image: flags.image,
    runtime: flags.runtime,
    ...allowOption(flags.allowHost, flags.allowCidr),
  };
}

/** `-f` files: checked here (a regular file, within the limit) before anything is sent. */
async function localFiles(paths: string[]): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  for (const path of paths) {
    const stats = await stat(path).catch(() => undefined);
    if (stats?.isDirectory()) {
      // A tree: packed as a tar stream when sent, extracted as /workspace/NAME (its size is
      // counted by the upload's limit as it streams).
      files.push({
        path,
        name: basename(resolve(path)),
        mode: stats.mode & 0o7777,
        directory: true,
      });
      continue;
    }
    if (!stats?.isFile()) {
      throw new InvalidInputError(`Cannot upload ${path}: not a readable file or directory.`, {
        hint: '-f takes a file or directory on this machine; it lands in /workspace under its own name.',
      });
    }
    if (stats.size > defaultMaxUploadBytes) {
      throw new InvalidInputError(
        `Cannot upload ${path}: ${stats.size} bytes is over the ${defaultMaxUploadBytes}-byte limit.`,
        {
          hint: 'Put large data in the workspace once (it persists with -w) instead of uploading it every run.',
        },
      );
    }
    files.push({ path, name: basename(path), mode: stats.mode & 0o7777 });
  }
  return files;
}

/** `name@3` → ['name', 3]. */
function splitVersion(value: string | undefined): [string | undefined, number | undefined] {
  if (value === undefined) return [undefined, undefined];
  const match = /^(.*)@(\d+)$/.exec(value);
  return match ? [match[1], Number(match[2])] : [value, undefined];
}

/** `--json` output: chunks as UTF-8 text when they are, base64 when they are binary. */
function jsonLine(stream: 'stdout' | 'stderr', chunk: Uint8Array): void {
  const data = Buffer.from(chunk);
  const text = data.toString('utf8');
  const event = Buffer.from(text, 'utf8').equals(data)
    ? { type: stream, data: text }
    : { type: stream, base64: data.toString('base64') };
  process.stdout.write(`${JSON.stringify(event)}\n`);
}
