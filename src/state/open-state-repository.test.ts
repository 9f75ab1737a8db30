import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import postgres from 'postgres';
import type { MagsError } from '../errors/mags-error.ts';
import {
  describeStateLocation,
  openStateRepository,
  parseStateLocation,
} from './open-state-repository.ts';
import { postgresMigrations } from './postgres/postgres-migrations.ts';
import { createTestPostgresDatabase } from './postgres/postgres-test-database.ts';

const home = await mkdtemp(join(tmpdir(), 'mags-open-state-'));
after(() => rm(home, { recursive: true, force: true }));

/** Asserts `work` rejects with a MagsError of `code` whose text never shows `secret`. */
async function refused(work: Promise<unknown>, code: string, secret = 'hunter2') {
  const error = (await work.then(
    () => assert.fail('expected a refusal'),
    (caught: unknown) => caught,
  )) as MagsError;
  assert.equal(error.code, code, error.message);
  assert.ok(!`${error.message} ${error.hint}`.includes(secret), 'the password is never shown');
  return error;
}

describe('the state location', () => {
  test('nothing given is $MAGS_HOME/state.db; a path is a SQLite file', () => {
    assert.deepEqual(parseStateLocation(undefined, home), {
      kind: 'sqlite',
      path: join(home, 'state.db'),
    });
    assert.deepEqual(parseStateLocation('other/state.db', home), {
      kind: 'sqlite',
      path: resolve('other/state.db'),
    });
  });

  test('postgres:// and postgresql:// URLs are PostgreSQL, shown without the password', () => {
    for (const url of [
      'postgres://mags:hunter2@db.example:5433/mags',
      'postgresql://mags:hunter2@db.example:5433/mags?password=hunter2&sslmode=require',
    ]) {
      const location = parseStateLocation(url, home);
      assert.deepEqual(location, { kind: 'postgres', url });
      assert.equal(describeStateLocation(location), 'postgres://mags@db.example:5433/mags');
    }
  });

  test('another scheme, a malformed URL or nothing at all is refused with what to write', () => {
    for (const spec of [
      'mysql://db/mags',
      'http://db:5432/mags',
      'postgres:mags',
      ' ',
      'postgres://a:b@[::1/x',
    ]) {
      assert.throws(
        () => parseStateLocation(spec, home),
        (error: MagsError) =>
          error.code === 'invalid_input' &&
          /postgres:\/\/USER:PASSWORD@HOST/.test(error.hint ?? ''),
        spec,
      );
    }
  });

  test('a SQLite path opens a SQLite state', async () => {
    const repository = await openStateRepository(join(home, 'opened.db'), home);
    await repository.touchWorkspace('alice', 'w', 'now');
    assert.equal((await repository.listWorkspaces('alice')).length, 1);
    await repository.close();
  });
});

describe('PostgreSQL refusals', () => {
  test('a port where nothing listens: refused, naming the host and port', async () => {
    // A port just freed: nothing listens there.
    const port = await new Promise<number>((done) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => done(port));
      });
    });
    const error = await refused(
      openStateRepository(`postgres://mags:hunter2@127.0.0.1:${port}/mags`, home),
      'state_unavailable',
    );
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(error.message, /ECONNREFUSED/);
    assert.match(error.hint ?? '', /Nothing accepts connections/);
  });

  test('a host that does not resolve: refused with what to check', async () => {
    const error = await refused(
      openStateRepository('postgres://mags:hunter2@no-such-host.invalid/mags', home),
      'state_unavailable',
    );
    assert.match(error.hint ?? '', /not known/);
  });
});

const database = await createTestPostgresDatabase();
describe('PostgreSQL databases', () => {
  if ('skip' in database) {
    test('postgres', { skip: database.skip }, () => {});
    return;
  }
  after(() => database.drop());
  const url = new URL(database.url);
  const withPassword = (changes: { database?: string; user?: string }) => {
    const changed = new URL(url);
    // The test server trusts loopback, so any password is accepted: a real one would be checked.
    changed.password = 'hunter2';
    if (changes.database) changed.pathname = `/${changes.database}`;
    if (changes.user) changed.username = changes.user;
    return changed.toString();
  };

  test('a database that does not exist: refused, saying how to create it', async () => {
    const error = await refused(
      openStateRepository(withPassword({ database: 'mags_no_such_database' }), home),
      'state_unavailable',
    );
    assert.match(error.message, /database "mags_no_such_database" does not exist/);
    assert.match(error.hint ?? '', /createdb mags_no_such_database/);
  });

  test('a user the server does not know: refused, saying to check user and password', async () => {
    const error = await refused(
      openStateRepository(withPassword({ user: 'mags_no_such_user' }), home),
      'state_unavailable',
    );
    assert.match(error.message, /mags_no_such_user/);
    assert.match(error.hint ?? '', /user or password/);
  });

  test('servers opening a new database at once create its schema once', async () => {
    const repositories = await Promise.all(
      [1, 2, 3].map(() => openStateRepository(withPassword({}), home)),
    );
    await Promise.all(repositories.map((repository) => repository.close()));
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    const versions = await sql`SELECT version FROM mags_schema ORDER BY version`;
    await sql.end();
    assert.deepEqual(
      versions.map((row) => row.version),
      postgresMigrations.map((migration) => migration.version),
    );
  });

  test('a schema newer than this mags is refused, and nothing is written', async () => {
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    const newer = (postgresMigrations.at(-1)?.version ?? 0) + 1;
    await sql`INSERT INTO mags_schema (version) VALUES (${newer})`;
    try {
      const error = await refused(
        openStateRepository(withPassword({}), home),
        'state_schema_newer',
      );
      assert.match(error.message, new RegExp(`schema is version ${newer}, newer than this mags`));
      assert.match(error.hint ?? '', /Upgrade this server/);
      const [row] = await sql`SELECT count(*)::int AS count FROM mags_schema`;
      assert.equal(row?.count, postgresMigrations.length + 1);
    } finally {
      await sql`DELETE FROM mags_schema WHERE version = ${newer}`;
      await sql.end();
    }
  });
});
