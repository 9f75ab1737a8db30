import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { MagsError } from '../../errors/mags-error.ts';
import { openStateRepository } from '../open-state-repository.ts';

/**
 * A wrong password, against a PostgreSQL of this test's own that checks passwords (SCRAM): the
 * shared test server trusts loopback and accepts any. Skipped, with the reason, where Debian's
 * PostgreSQL binaries or its `postgres` user (it refuses to run as root) are missing.
 */
const run = promisify(execFile);
const binaries = await readdir('/usr/lib/postgresql')
  .then((versions) => versions.sort((a, b) => Number(a) - Number(b)).at(-1))
  .then((version) => (version ? `/usr/lib/postgresql/${version}/bin` : undefined))
  .catch(() => undefined);
const skip = !binaries
  ? 'no PostgreSQL server binaries under /usr/lib/postgresql: run scripts/postgres.sh install'
  : userInfo().uid !== 0
    ? 'starting a PostgreSQL of its own needs root (to run it as the postgres user)'
    : false;
const password = 'the-right-one';
let directory = '';
let port = 0;
const asPostgres = (command: string, args: string[]) =>
  run('runuser', ['-u', 'postgres', '--', join(binaries ?? '', command), ...args]);

before(async () => {
  if (skip) return;
  directory = await mkdtemp(join(tmpdir(), 'mags-pg-password-'));
  const { uid, gid } = await run('id', ['-u', 'postgres']).then(async ({ stdout }) => ({
    uid: Number(stdout),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout),
  }));
  await chown(directory, uid, gid);
  await writeFile(join(directory, 'password'), `${password}\n`);
  await chown(join(directory, 'password'), uid, gid);
  port = await new Promise<number>((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address() as { port: number };
      probe.close(() => done(address.port));
    });
  });
  await asPostgres('initdb', [
    ...['-D', join(directory, 'data'), '-U', 'postgres', '--auth=scram-sha-256'],
    ...[`--pwfile=${join(directory, 'password')}`, '-E', 'UTF8', '--no-locale'],
  ]);
  await asPostgres('pg_ctl', [
    ...['-D', join(directory, 'data'), '-l', join(directory, 'server.log'), '-w', '-t', '30'],
    ...['start', '-o', `-h 127.0.0.1 -p ${port} -k ${directory} -c fsync=off`],
  ]);
});

after(async () => {
  if (!directory) return;
  await asPostgres('pg_ctl', ['-D', join(directory, 'data'), '-m', 'immediate', 'stop']).catch(
    () => {},
  );
  await rm(directory, { recursive: true, force: true });
});

test('a wrong password is refused with what to check, and never shown', { skip }, async () => {
  const wrong = 'not-the-password';
  const error = (await openStateRepository(
    `postgres://postgres:${wrong}@127.0.0.1:${port}/postgres`,
    directory,
  ).then(
    () => assert.fail('a wrong password was accepted'),
    (caught: unknown) => caught,
  )) as MagsError;
  assert.equal(error.code, 'state_unavailable');
  assert.match(error.message, /password authentication failed/);
  assert.match(error.hint ?? '', /user or password/);
  assert.ok(!`${error.message} ${error.hint}`.includes(wrong), error.message);
  // The right one opens it (and creates the schema).
  const repository = await openStateRepository(
    `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    directory,
  );
  assert.deepEqual(await repository.listTokens(), []);
  await repository.close();
});
