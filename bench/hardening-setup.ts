import { runCli } from '../test/helpers/test-home.ts';

export const mebibyte = 1024 * 1024;

/** A throw-away MAGS_HOME for one part of the campaign, and the environment that points at it. */
export interface BenchHome {
  home: string;
  environment: NodeJS.ProcessEnv;
}

/** A token for `owner`, made as a user makes one: `mags token create`. */
export async function benchToken(
  home: BenchHome,
  owner: string,
  options: { admin?: boolean } = {},
): Promise<string> {
  const created = await runCli(home.home, [
    'token',
    'create',
    '--owner',
    owner,
    ...(options.admin ? ['--admin'] : []),
  ]);
  if (created.code !== 0) throw new Error(`mags token create --owner ${owner}: ${created.stderr}`);
  return created.stdout.toString().trim();
}
