import { join } from 'node:path';
import type { Command } from 'commander';
import { printJson, printTable } from '../output.ts';

/** Tokens are managed on the server's host, in its state database: nothing to log in to yet. */
async function openRepository() {
  const [{ resolveMagsHome }, { createSqliteStateRepository }] = await Promise.all([
    import('../../config/mags-home.ts'),
    import('../../state/sqlite/sqlite-state-repository.ts'),
  ]);
  return createSqliteStateRepository(join(resolveMagsHome(), 'state.db'));
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
    .action(async (flags: { owner: string; name: string; admin?: boolean; json?: boolean }) => {
      const { createToken } = await import('../../server/tokens.ts');
      const repository = await openRepository();
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
    .action(async (flags: { owner?: string; json?: boolean }) => {
      const repository = await openRepository();
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
    .action(async (id: string) => {
      const { revokeToken } = await import('../../server/tokens.ts');
      const repository = await openRepository();
      try {
        await revokeToken(repository, id);
      } finally {
        await repository.close();
      }
      process.stderr.write(`mags: revoked ${id}\n`);
    });
}
