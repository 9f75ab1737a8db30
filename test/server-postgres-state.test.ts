/**
 * `mags server --state postgres://…` as a user starts it (issue 17): tokens created with
 * `mags token create --state`, a run through the API recorded in PostgreSQL, never in
 * $MAGS_HOME/state.db, and the password in no output. Bad locations stop the server at once with
 * what to do.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';
import { createPostgresStateRepository } from '../src/state/postgres/postgres-state-repository.ts';
import { createTestPostgresDatabase } from '../src/state/postgres/postgres-test-database.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const database = await createTestPostgresDatabase();
const skip = 'skip' in database ? database.skip : sandboxSkipReason();
if (skip) process.stdout.write(`# skipping PostgreSQL server tests: ${skip}\n`);

/** The test server trusts loopback, so this password is accepted (a real server would check it). */
const password = 'hunter2-secret';

/** `mags server` with these flags: its stderr so far, and how it ended or its URL once listening. */
function startServer(home: string, flags: string[]) {
  const child = spawn(
    process.execPath,
    [join(packageRoot(), 'bin', 'mags.js'), 'server', '--port', '0', '--pool-size', '0', ...flags],
    { env: { ...process.env, MAGS_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const started = new Promise<{ url?: string; code?: number | null }>((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) resolve({ url: match[1] as string });
    });
    child.once('exit', (code) => resolve({ code }));
  });
  return { child, started, stderr: () => stderr };
}

describe('mags server on PostgreSQL', { skip }, () => {
  let testHome: TestHome;
  let server: ReturnType<typeof startServer> | undefined;
  let url: string;
  before(async () => {
    testHome = await createTestHome();
    if ('skip' in database) return;
    const withPassword = new URL(database.url);
    withPassword.password = password;
    url = withPassword.toString();
  });
  after(async () => {
    if (server) await stopServer(server.child);
    await testHome.cleanup();
    if (!('skip' in database)) await database.drop();
  });

  test('tokens, a run and its output live in PostgreSQL; the password is never shown', async () => {
    if ('skip' in database) return;
    const { home } = testHome;
    const created = await runCli(home, ['token', 'create', '--owner', 'alice', '--state', url]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.toString().trim();
    server = startServer(home, ['--state', url]);
    const started = await server.started;
    assert.ok(started.url, server.stderr());
    const name = new URL(database.url).pathname.slice(1);
    assert.match(
      server.stderr(),
      new RegExp(`state: postgres://postgres@127\\.0\\.0\\.1:\\d+/${name}\\)`),
    );
    const env = {
      MAGS_URL: started.url,
      MAGS_API_TOKEN: token,
      XDG_CONFIG_HOME: join(home, 'config'),
    };
    const run = await runCli(home, ['run', 'echo hi from postgres'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.toString(), 'hi from postgres\n');

    const state = await createPostgresStateRepository(database.url);
    try {
      const { jobs } = await state.listJobs({ owner: 'alice', limit: 10 });
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0]?.status, 'succeeded');
      const chunks = await state.readLog(jobs[0]?.id ?? '', 0, 1024);
      assert.equal(
        Buffer.concat(chunks.map((chunk) => chunk.data)).toString(),
        'hi from postgres\n',
      );
    } finally {
      await state.close();
    }
    assert.equal(existsSync(join(home, 'state.db')), false, 'no SQLite state beside it');
    const listed = await runCli(home, ['token', 'list', '--json'], {
      env: { MAGS_STATE: url },
    });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      (JSON.parse(listed.stdout.toString()) as { owner: string }[]).map((row) => row.owner),
      ['alice'],
    );
    for (const output of [server.stderr(), created.stderr, run.stderr, listed.stderr]) {
      assert.ok(!output.includes(password), output);
    }
  });

  test('another scheme stops the server before it starts, saying what to write', async () => {
    const bad = startServer(testHome.home, ['--state', 'mysql://db/mags']);
    const { code } = await bad.started;
    assert.equal(code, 2, 'bad input');
    assert.match(bad.stderr(), /not a database mags can use/);
    assert.match(bad.stderr(), /postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE/);
  });

  test('a PostgreSQL that is not there stops the server, naming it without the password', async () => {
    const port = await new Promise<number>((done) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => done(port));
      });
    });
    const bad = startServer(testHome.home, [
      '--state',
      `postgres://postgres:${password}@127.0.0.1:${port}/mags`,
    ]);
    const { code } = await bad.started;
    assert.notEqual(code, 0);
    assert.match(bad.stderr(), new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(bad.stderr(), /Nothing accepts connections/);
    assert.ok(!bad.stderr().includes(password), bad.stderr());
  });
});

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // SIGUSR2 stops its sandboxes too (server-stop.ts), before the test home goes.
  child.kill('SIGUSR2');
  await exited;
}
