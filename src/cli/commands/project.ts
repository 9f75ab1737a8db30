import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Project } from '../../sdk/projects-client.ts';
import { apiClient } from '../client/api-client.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { printJson, printTable } from '../output.ts';

/** A URL is sent as it is; a path is resolved against the user's directory, not the server's. */
const repositoryArgument = (repo: string) =>
  /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) ? repo : resolve(repo);

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
      const mags = await apiClient(command);
      if (!flags.json)
        process.stderr.write(`mags: importing ${flags.repo} as project ${name}...\n`);
      const created = await mags.projects.create({
        name,
        repo: repositoryArgument(flags.repo),
        ref: flags.ref,
        network: flags.net,
        setup: flags.setup,
        test: flags.test,
        model: flags.model,
      });
      if (flags.json) return printJson(created);
      printProject(created);
      if (created.status === 'failed') process.exitCode = 1;
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
    .option('--setup <command>', 'the setup command ("" : back to .mags/project.json)')
    .option('--test <command>', 'the test command ("" : back to .mags/project.json)')
    .option('--model <provider:model>', 'the default model ("" : back to .mags/project.json)')
    .option('--json', 'print the project as JSON')
    .action(async (name: string, flags, command: Command) => {
      const field = (value: string | undefined) =>
        value === undefined ? undefined : value === '' ? null : value;
      const patch = {
        ...(flags.repo !== undefined ? { repo: repositoryArgument(flags.repo) } : {}),
        ...(flags.setup !== undefined ? { setup: field(flags.setup) } : {}),
        ...(flags.test !== undefined ? { test: field(flags.test) } : {}),
        ...(flags.model !== undefined ? { model: field(flags.model) } : {}),
      };
      if (Object.keys(patch).length === 0) {
        throw new CommandUsageError('Nothing to update: give --repo, --setup, --test or --model.');
      }
      const mags = await apiClient(command);
      const updated = await mags.projects.update(name, patch);
      if (flags.json) return printJson(updated);
      printProject(updated);
    });

  project
    .command('refresh')
    .description('Pull new commits from the repository and run the setup again.')
    .argument('<name>')
    .option('--json', 'print the project as JSON')
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const mags = await apiClient(command);
      const refreshed = await mags.projects.refresh(name);
      if (flags.json) return printJson(refreshed);
      printProject(refreshed);
      if (refreshed.status === 'failed') process.exitCode = 1;
    });

  project
    .command('delete')
    .description("Delete a project, its workspace and its tickets' (refused while a ticket runs).")
    .argument('<name>')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const mags = await apiClient(command);
      await mags.projects.delete(name);
      process.stderr.write(`mags: project ${name} deleted\n`);
    });
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
