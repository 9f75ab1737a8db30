/**
 * `mags cron` as a user types it (bin/mags.js), against a server in this process (MAGS_URL), and
 * without a URL: then this host's local server fires it, which `mags cron add` says.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CronJob, CronRun } from '../src/api/cron.ts';
import { waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping cron CLI tests: ${skip}\n`);

describe('mags cron', { skip }, () => {
  let server: TestServer;
  let environment: Record<string, string>;
  before(async () => {
    server = await startTestServer({
      scheduling: { poolSize: 0 },
      cron: { minIntervalSeconds: 0 },
    });
    const { token } = await server.client('alice');
    environment = { MAGS_URL: server.url, MAGS_API_TOKEN: token };
  });
  after(() => server.close());

  const cli = (args: string[]) => runCli(server.testHome.home, args, { env: environment });

  test('add, list, show, history with job ids and exit codes, run, pause, resume, remove', async () => {
    const added = await cli([
      'cron',
      'add',
      'ticker',
      '--schedule',
      '* * * * * *',
      '--timeout',
      '30',
      'echo tick; exit 3',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stderr,
      /cron job ticker added: \* \* \* \* \* \* \(UTC\), next run at \S+Z/,
    );
    assert.doesNotMatch(added.stderr, /local server/, 'a server was chosen: nothing to say');
    const history = async () => {
      const result = await cli(['cron', 'history', 'ticker', '--json']);
      return (JSON.parse(result.stdout.toString()) as { runs: CronRun[] }).runs;
    };
    await waitUntil(async () => (await history()).some((run) => run.job?.exitCode === 3), 15_000);
    const paused = await cli(['cron', 'pause', 'ticker']);
    assert.match(paused.stderr, /cron job ticker paused/);

    const table = (await cli(['cron', 'history', 'ticker'])).stdout.toString();
    assert.match(
      table.split('\n')[0] ?? '',
      /^TIME\s+STATUS\s+TRIGGER\s+JOB\s+JOB STATUS\s+EXIT\s+REASON/,
    );
    assert.match(table, /\S+Z\s+started\s+schedule\s+job_\S+\s+failed\s+3\s+exited with code 3/);
    const listed = (await cli(['cron', 'list'])).stdout.toString();
    assert.match(
      listed,
      /ticker\s+\* \* \* \* \* \*\s+UTC\s+paused\s+-\s+\S+Z\s+echo tick; exit 3/,
    );
    const shown = JSON.parse(
      (await cli(['cron', 'show', 'ticker', '--json'])).stdout.toString(),
    ) as CronJob;
    assert.deepEqual(
      [shown.paused, shown.timeoutSeconds, shown.command],
      [true, 30, 'echo tick; exit 3'],
    );
    // Its jobs say where they came from.
    const jobs = (await cli(['list'])).stdout.toString();
    assert.match(jobs, /\[cron:ticker:crn_[\w-]+\] echo tick; exit 3/);

    const run = await cli(['cron', 'run', 'ticker']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /started job (job_\S+) \(mags logs -f job_\S+\)/);
    const resumed = await cli(['cron', 'resume', 'ticker']);
    assert.match(resumed.stderr, /cron job ticker active, next run at \S+Z/);
    const removed = await cli(['cron', 'remove', 'ticker']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stderr, /cron job ticker removed/);
    const gone = await cli(['cron', 'show', 'ticker']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /No cron job "ticker"/);
  });

  test('remove says that a run still going is left to finish, and how to end it', async () => {
    const added = await cli(['cron', 'add', 'sleeper', '--schedule', '@yearly', 'sleep 60']);
    assert.equal(added.code, 0, added.stderr);
    const run = await cli(['cron', 'run', 'sleeper']);
    const job = /started job (job_\S+)/.exec(run.stderr)?.[1];
    assert.ok(job, run.stderr);
    const removed = await cli(['cron', 'remove', 'sleeper']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(
      removed.stderr,
      new RegExp(`its run ${job} still going is left to finish \\(mags stop ${job} ends it\\)`),
    );
    await cli(['stop', job]);
  });

  test('a bad schedule or time zone is refused with the reason and a hint', async () => {
    const bad = await cli(['cron', 'add', 'x', '--schedule', '99 * * * *', 'true']);
    assert.notEqual(bad.code, 0, bad.stderr);
    assert.match(bad.stderr, /"99 \* \* \* \*" is not a cron schedule/);
    assert.match(bad.stderr, /hint: Five fields/);
    const zone = await cli([
      'cron',
      'add',
      'x',
      '--schedule',
      '@daily',
      '--timezone',
      'Nowhere',
      'true',
    ]);
    assert.match(zone.stderr, /"Nowhere" is not a time zone/);
    const catchUp = await cli([
      'cron',
      'add',
      'x',
      '--schedule',
      '@daily',
      '--catch-up',
      'all',
      'true',
    ]);
    assert.match(catchUp.stderr, /Invalid --catch-up "all"/);
    const list = JSON.parse((await cli(['cron', 'list', '--json'])).stdout.toString()) as {
      cronJobs: unknown[];
    };
    assert.deepEqual(list.cronJobs, []);
  });
});

describe('mags cron without a server URL', { skip }, () => {
  let testHome: TestHome | undefined;
  before(async () => {
    testHome = await createTestHome();
  });
  after(async () => {
    // The local server the CLI started for this home.
    const local = await readFile(join(testHome?.home ?? '', 'local-server.json'), 'utf8').catch(
      () => undefined,
    );
    if (local) process.kill((JSON.parse(local) as { pid: number }).pid, 'SIGTERM');
    await waitUntil(async () => {
      const still = await readFile(join(testHome?.home ?? '', 'local-server.json'), 'utf8').catch(
        () => undefined,
      );
      return still === undefined;
    }, 10_000).catch(() => {});
    await testHome?.cleanup();
  });

  test("add says that this host's local server fires it, while it runs, and how to keep one running", async () => {
    const { home } = testHome as TestHome;
    const added = await runCli(
      home,
      ['cron', 'add', 'nightly', '--schedule', '0 3 * * *', 'true'],
      {
        env: { MAGS_URL: '', MAGS_API_TOKEN: '' },
      },
    );
    assert.equal(added.code, 0, added.stderr);
    const local = JSON.parse(await readFile(join(home, 'local-server.json'), 'utf8')) as {
      pid: number;
    };
    assert.match(
      added.stderr,
      new RegExp(
        `cron jobs fire only while a mags server runs; this host's local server \\(pid ${local.pid}, started just now\\) fires this one`,
      ),
    );
    assert.match(added.stderr, /the next mags command starts it again/);
    assert.match(added.stderr, /--catch-up \(skip\)/);
    assert.match(added.stderr, /run `mags server` as a service/);
    const again = await runCli(home, ['cron', 'add', 'hourly', '--schedule', '@hourly', 'true'], {
      env: { MAGS_URL: '', MAGS_API_TOKEN: '' },
    });
    assert.match(again.stderr, new RegExp(`local server \\(pid ${local.pid}\\) fires this one`));
    assert.doesNotMatch(again.stderr, /as a service/, 'the long notice once per local server');
    assert.match(added.stderr, /It runs until `mags server stop`/);

    // mags server stop: SIGTERM, waited for; the sandboxes outlive it, which it says.
    const stopped = await runCli(home, ['server', 'stop'], {
      env: { MAGS_URL: '', MAGS_API_TOKEN: '' },
    });
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(
      stopped.stderr,
      new RegExp(
        `stopped this host's local server \\(pid ${local.pid}\\)\\. Its jobs and sandboxes keep running`,
      ),
    );
    assert.throws(() => process.kill(local.pid, 0), /ESRCH/, 'the server has exited');
    const none = await runCli(home, ['server', 'stop'], {
      env: { MAGS_URL: '', MAGS_API_TOKEN: '' },
    });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No local mags server runs for /);
  });
});
