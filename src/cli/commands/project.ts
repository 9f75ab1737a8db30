import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Mags } from '../../sdk/mags.ts';
import type { Project } from '../../sdk/projects-client.ts';
import { apiClient, remoteClient } from '../client/api-client.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { printJson, printTable } from '../output.ts';
import { waitingLine } from '../waiting-line.ts';

/**
 * The client, and the repository as the server is to read it. A URL is sent as it is. A path is
 * a directory on the server: on this host's local server, the user's own directory, so a relative
 * one is resolved here; a remote server (--url, MAGS_URL, mags login) has other files, so only an
 * absolute path (of the server's) is sent, never one resolved against this host's directory.
 */
async function clientFor(
  command: Command,
  repo: string | undefined,
): Promise<{ mags: Mags; repo: string | undefined }> {
  const remote = await remoteClient(command);
  const mags = remote ?? (await apiClient(command));
  if (repo === undefined || /^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) return { mags, repo };
  if (!remote) return { mags, repo: resolve(repo) };
  if (!isAbsolute(repo)) {
    throw new CommandUsageError(
      `--repo ${repo} is a path on the server (a remote one here): give its absolute path there, or the repository's URL with --net.`,
    );
  }
  return { mags, repo };
}

/** Runs `request` with a waiting line on stderr (not with --json, whose output is read). */
async function waitingFor<T>(label: string, quiet: boolean, request: Promise<T>): Promise<T> {
  const line = quiet ? undefined : waitingLine(label);
  try {
    return await request;
  } finally {
    line?.stop();
  }
}

export function registerProjectCommands(program: Command): void {
  const project = program
    .command('project')
    .description('Projects: a git repository imported into a workspace, set up once for tickets.');

  project
    .command('create')
    .description(
      'Import a repository (a checkout or bare repository on the server, or a URL with --net) and run its setup once.',
    )
    .argument('<name>')
    .requiredOption('--repo <path-or-url>', 'the repository: a path on the server, or a URL')
    .option('--net', 'give the clone and the setup outbound network (needed for a URL)')
    .option('--ref <ref>', 'branch, tag or commit to import (default: its HEAD)')
    .option(
      '--setup <command>',
      'run once after import, e.g. "npm ci" (wins over .mags/project.json)',
    )
    .option('--test <command>', 'how to test it, e.g. "npm test"')
    .option('--model <provider:model>', "the tickets' default model")
    .option('--json', 'print the project as JSON')
    .action(async (name: string, flags, command: Command) => {
      const { mags, repo } = await clientFor(command, flags.repo);
      // The server answers when the clone and the setup are done (minutes for a large setup).
      const created = await waitingFor(
        `importing ${repo} as project ${name} and running its setup`,
        flags.json === true,
        mags.projects.create({
          name,
          repo: repo ?? flags.repo,
          ref: flags.ref,
          network: flags.net,
          setup: flags.setup,
          test: flags.test,
          model: flags.model,
        }),
      );
      if (flags.json) return printJson(created);
      printProject(created);
      if (created.status === 'failed') failedProject(created);
    });

  project
    .command('list')
    .description('List your projects.')
    .option('--json', 'print them as JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const projects = await mags.projects.list();
      if (flags.json) return printJson({ projects });
      printTable(
        ['NAME', 'STATUS', 'COMMIT', 'REPOSITORY'],
        projects.map((each) => [each.name, each.status, short(each.commit), each.repo]),
      );
    });

  project
    .command('show')
    .description('Show a project: its repository, commit, commands and status.')
    .argument('<name>')
    .option('--json', 'print it as JSON')
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const shown = await mags.projects.get(name);
      if (flags.json) return printJson(shown);
      printProject(shown);
    });

  project
    .command('update')
    .description('Change the setup or test command, the model or the repository.')
    .argument('<name>')
    .option('--repo <path-or-url>', 'a new repository (used by the next refresh)')
    .option(
      '--setup <command>',
      'the setup command, run at the next refresh ("" : back to .mags/project.json)',
    )
    .option('--test <command>', 'the test command ("" : back to .mags/project.json)')
    .option('--model <provider:model>', 'the default model ("" : back to .mags/project.json)')
    .option('--json', 'print the project as JSON')
    .action(async (name: string, flags, command: Command) => {
      const field = (value: string | undefined) =>
        value === undefined ? undefined : value === '' ? null : value;
      const fields = ['repo', 'setup', 'test', 'model'] as const;
      if (fields.every((each) => flags[each] === undefined)) {
        throw new CommandUsageError('Nothing to update: give --repo, --setup, --test or --model.');
      }
      const { mags, repo } = await clientFor(command, flags.repo);
      const patch = {
        ...(repo !== undefined ? { repo } : {}),
        ...(flags.setup !== undefined ? { setup: field(flags.setup) } : {}),
        ...(flags.test !== undefined ? { test: field(flags.test) } : {}),
        ...(flags.model !== undefined ? { model: field(flags.model) } : {}),
      };
      const updated = await mags.projects.update(name, patch);
      if (flags.json) return printJson(updated);
      printProject(updated);
      // Nothing runs on update: a new repository or setup takes effect at the next refresh.
      const later = [repo !== undefined && 'repository', flags.setup !== undefined && 'setup'];
      const changed = later.filter((each) => each !== false).join(' and ');
      if (changed) {
        process.stderr.write(
          `mags: the new ${changed} take${changed.includes(' and ') ? '' : 's'} effect at the next refresh: mags project refresh ${name}\n`,
        );
      }
    });

  project
    .command('refresh')
    .description('Pull new commits from the repository and run the setup again.')
    .argument('<name>')
    .option('--json', 'print the project as JSON')
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const refreshed = await waitingFor(
        `refreshing project ${name} and running its setup`,
        flags.json === true,
        mags.projects.refresh(name),
      );
      if (flags.json) return printJson(refreshed);
      printProject(refreshed);
      if (refreshed.status === 'failed') failedProject(refreshed);
    });

  project
    .command('delete')
    .description(
      'Delete a project, its workspace, and its tickets with their sandboxes and workspaces (refused while a ticket is queued or running).',
    )
    .argument('<name>')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const mags = await apiClient(command);
      await mags.projects.delete(name);
      process.stderr.write(`mags: project ${name} deleted\n`);
    });
}

/** A failed project (its setup, most often): say how to try again, and exit 1. */
function failedProject(project: Project): void {
  const { name } = project;
  const fix = project.reason?.startsWith('setup ')
    ? `fix the setup (in the repository, or mags project update ${name} --setup CMD)`
    : 'fix the cause';
  process.stderr.write(
    `mags: project ${name} failed; ${fix} and run mags project refresh ${name}\n`,
  );
  process.exitCode = 1;
}

const short = (commit: string | null) => commit?.slice(0, 12) ?? '-';

function printProject(project: Project): void {
  const rows: [string, string | null][] = [
    ['name', project.name],
    ['status', project.status],
    ['reason', project.reason],
    ['repository', project.repo],
    ['ref', project.ref],
    ['commit', project.commit],
    ['workspace', project.workspace],
    ['setup', project.setup],
    ['test', project.test],
    ['model', project.model],
    ['updated', project.updatedAt],
  ];
  for (const [label, value] of rows) {
    if (value !== null) process.stdout.write(`${`${label}:`.padEnd(12)}${value}\n`);
  }
}
