import type { Command } from 'commander';
import { printJson, printTable } from '../output.ts';

/**
 * Tokens are managed in the server's state database, on its host (or anywhere that reaches its
 * PostgreSQL: `--state`, MAGS_STATE, as `mags server` takes them): nothing to log in to yet.
 */
async function openRepository(state: string | undefined) {
  const [{ resolveMagsHome }, { openStateRepository }] = await Promise.all([
    import('../../config/mags-home.ts'),
    import('../../state/open-state-repository.ts'),
  ]);
  return openStateRepository(state ?? process.env.MAGS_STATE, resolveMagsHome());
}

const stateOption = [
  '--state <location>',
  "the server's state: a postgres:// URL or a SQLite file (default $MAGS_STATE, else $MAGS_HOME/state.db)",
] as const;

interface CreateFlags {
  owner: string;
  name: string;
  admin?: boolean;
  json?: boolean;
  state?: string;
}

export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description("API tokens of this host's server (run where mags server runs).");
  token
    .command('create')
    .description('Create a token for an owner; it is printed once and stored only as a hash.')
    .requiredOption('--owner <owner>', 'whose sandboxes, jobs and workspaces the token reaches')
    .option('--name <name>', 'a label to recognise it by', 'default')
    .option('--admin', "may also read the host's figures across owners (mags pool status)")
    .option('--json', 'print JSON')
    .option(...stateOption)
    .action(async (flags: CreateFlags) => {
      const { createToken } = await import('../../server/tokens.ts');
      const repository = await openRepository(flags.state);
      const { token: secret, record } = await createToken(repository, flags.owner, flags.name, {
        admin: flags.admin,
      }).finally(() => repository.close());
      if (flags.json) {
        return printJson({
          id: record.id,
          owner: record.owner,
          admin: record.admin,
          token: secret,
        });
      }
      process.stdout.write(`${secret}\n`);
      process.stderr.write(
        `mags: ${record.admin ? 'admin ' : ''}token ${record.id} for owner ${record.owner}; it is not shown again.\n  use it: mags login --url URL  (or MAGS_API_TOKEN=...)\n`,
      );
    });
  token
    .command('list')
    .description('List tokens (never their secrets).')
    .option('--owner <owner>', 'only this owner')
    .option('--json', 'print JSON')
    .option(...stateOption)
    .action(async (flags: { owner?: string; json?: boolean; state?: string }) => {
      const repository = await openRepository(flags.state);
      const tokens = await repository.listTokens(flags.owner);
      await repository.close();
      const rows = tokens.map(({ hash: _hash, ...rest }) => rest);
      if (flags.json) return printJson(rows);
      printTable(
        ['ID', 'OWNER', 'NAME', 'ADMIN', 'CREATED', 'REVOKED'],
        rows.map((row) => [
          row.id,
          row.owner,
          row.name,
          row.admin ? 'yes' : 'no',
          row.createdAt,
          row.revokedAt ?? '-',
        ]),
      );
    });
  token
    .command('revoke')
    .description('Revoke a token: requests with it get 401 from now on.')
    .argument('<id>')
    .option(...stateOption)
    .action(async (id: string, flags: { state?: string }) => {
      const { revokeToken } = await import('../../server/tokens.ts');
      const repository = await openRepository(flags.state);
      try {
        await revokeToken(repository, id);
      } finally {
        await repository.close();
      }
      process.stderr.write(`mags: revoked ${id}\n`);
    });
}
