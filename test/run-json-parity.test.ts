/**
 * `mags run --json` is the same whether the run goes through a server or through the job system
 * embedded in the CLI process: the same events in the same order with the same fields, the same
 * end reason and exit code, for a success, a failing exit, a timeout, an OOM kill and a stop.
 * Also: -f uploads through a server, and an embedded run leaves no server process behind.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';
import { processesMentioning, startServerProcess } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping run parity tests: ${skip}\n`);

interface JsonRun {
  code: number | null;
  events: Array<Record<string, unknown>>;
  stderr: string;
}

/** `mags run --json ARGS`; with `interruptAfter`, Ctrl-C (SIGINT) once stdout shows that text. */
function runJson(
  environment: NodeJS.ProcessEnv,
  args: string[],
  interruptAfter?: string,
): Promise<JsonRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(packageRoot(), 'bin', 'mags.js'), 'run', '--json', ...args],
      { env: environment, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (interruptAfter && !interrupted && stdout.includes(interruptAfter)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const events = stdout
        .trim()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, events, stderr });
    });
  });
}

/** What must match across the two paths: event types and fields, the end, the exit code. */
function shape(run: JsonRun) {
  const exit = run.events.at(-1) ?? {};
  return {
    code: run.code,
    types: run.events.map((event) => event.type),
    fields: run.events.map((event) => Object.keys(event).sort().join(',')),
    output: run.events
      .filter((event) => event.type === 'stdout' || event.type === 'stderr')
      .map((event) => `${event.type}:${event.data}`)
      .join(''),
    exit: { ...exit, jobId: typeof exit.jobId },
  };
}

describe('mags run --json: embedded and through a server alike', { skip }, () => {
  let testHome: TestHome;
  let server: { child: ChildProcess; url: string };
  let embedded: NodeJS.ProcessEnv;
  let remote: NodeJS.ProcessEnv;
  before(async () => {
    testHome = await createTestHome();
    const home = testHome.home;
    const base = {
      ...process.env,
      MAGS_HOME: home,
      XDG_CONFIG_HOME: join(home, 'config'),
      // -p syncs to a directory store (no S3 needed).
      MAGS_STORE_DIR: join(home, 'store'),
      MAGS_S3_BUCKET: '',
    };
    server = await startServerProcess(base, ['--pool-size', '0']);
    const created = await runCli(home, ['token', 'create', '--owner', 'alice']);
    assert.equal(created.code, 0, created.stderr);
    embedded = base;
    remote = { ...base, MAGS_URL: server.url, MAGS_API_TOKEN: created.stdout.toString().trim() };
  });
  after(async () => {
    server.child.kill('SIGKILL');
    await testHome.cleanup();
  });

  const cases: Array<{
    name: string;
    args: string[];
    interruptAfter?: string;
    check: (run: JsonRun) => void;
  }> = [
    {
      name: 'success',
      args: ['echo hi; echo err >&2'],
      check: (run) => {
        assert.equal(run.code, 0);
        assert.deepEqual(run.events.at(-1), {
          type: 'exit',
          jobId: run.events[0]?.jobId,
          exitCode: 0,
          signal: null,
          endReason: 'exited',
          message: null,
        });
      },
    },
    {
      name: 'exit 3',
      args: ['echo out; exit 3'],
      check: (run) => {
        assert.equal(run.code, 3);
        assert.equal(run.events.at(-1)?.endReason, 'exited');
        assert.equal(run.events.at(-1)?.exitCode, 3);
      },
    },
    {
      name: 'timeout',
      args: ['--timeout', '1', "trap '' TERM; echo start; sleep 30"],
      check: (run) => {
        assert.equal(run.code, 124);
        assert.equal(run.events.at(-1)?.endReason, 'timed_out');
        assert.match(String(run.events.at(-1)?.message), /timed out after 1 s/);
      },
    },
    {
      name: 'OOM',
      args: ['--memory', '64m', 'head -c 400000000 /dev/zero | tail -c 300000000 >/dev/null'],
      check: (run) => {
        assert.equal(run.events.at(-1)?.endReason, 'oom_killed');
        assert.match(String(run.events.at(-1)?.message), /out of memory.*64 MiB/);
        assert.notEqual(run.code, 0);
      },
    },
    {
      name: 'on a named runtime (--runtime)',
      args: ['--runtime', 'namespace', 'echo hi'],
      check: (run) => {
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.events.at(-1)?.endReason, 'exited');
      },
    },
    {
      name: 'stop (Ctrl-C)',
      args: ['echo ready; sleep 30'],
      interruptAfter: 'ready',
      check: (run) => {
        assert.equal(run.events.at(-1)?.endReason, 'stopped');
        assert.equal(run.code, 143); // the shell killed by SIGTERM
      },
    },
  ];

  test('an unknown runtime: the same error on both paths, and nothing runs', async () => {
    const args = ['--runtime', 'no-such-runtime', 'echo ran'];
    const inProcess = await runJson(embedded, args);
    const throughServer = await runJson(remote, args);
    for (const run of [inProcess, throughServer]) {
      assert.equal(run.code, 2, run.stderr);
      assert.deepEqual(run.events, []);
    }
    assert.match(inProcess.stderr, /Unknown runtime "no-such-runtime"/);
    assert.equal(throughServer.stderr, inProcess.stderr);
  });

  for (const testCase of cases) {
    test(testCase.name, async () => {
      const inProcess = await runJson(embedded, testCase.args, testCase.interruptAfter);
      const throughServer = await runJson(remote, testCase.args, testCase.interruptAfter);
      testCase.check(inProcess);
      testCase.check(throughServer);
      assert.equal(inProcess.events[0]?.type, 'started');
      // Both name the run's sandbox (the job records it when the sandbox starts).
      assert.equal(typeof inProcess.events[0]?.sandboxId, 'string');
      assert.equal(typeof throughServer.events[0]?.sandboxId, 'string');
      assert.deepEqual(shape(inProcess), shape(throughServer), inProcess.stderr);
    });
  }

  test('mags stop ID stops a run through a server, with the same end', async () => {
    const running = runJson(remote, ['echo ready; sleep 30']);
    let jobId: string | undefined;
    for (let attempt = 0; attempt < 200 && !jobId; attempt++) {
      const jobs = await runCli(testHome.home, ['list', '--json'], {
        env: remote as Record<string, string>,
      });
      const list = (
        JSON.parse(jobs.stdout.toString() || '{"jobs":[]}') as {
          jobs: Array<{ id: string; status: string }>;
        }
      ).jobs;
      jobId = list.find((job) => job.status === 'running')?.id;
      if (!jobId) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(jobId, 'the run never showed as running');
    const stopped = await runCli(testHome.home, ['stop', jobId], {
      env: remote as Record<string, string>,
    });
    assert.equal(stopped.code, 0, stopped.stderr);
    // The job's end sentence (its message), as the run itself prints it.
    assert.equal(stopped.stderr, `mags: ${jobId} stopped\nmags: stopped on request\n`);
    const run = await running;
    assert.equal(run.events.at(-1)?.endReason, 'stopped');
    assert.equal(run.code, 143);
  });

  test('-f uploads a file through a server, mode and bytes intact', async () => {
    const file = join(testHome.home, 'data file.bin');
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 7, 0xab);
    await writeFile(file, bytes, { mode: 0o640 });
    const run = await runCli(
      testHome.home,
      ['run', '-f', file, 'stat -c "%a %s" "data file.bin"; sha256sum < "data file.bin"'],
      { env: remote as Record<string, string> },
    );
    assert.equal(run.code, 0, run.stderr);
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(bytes).digest('hex');
    assert.equal(run.stdout.toString(), `640 ${bytes.length}\n${digest}  -\n`);
  });

  test('an embedded run leaves no server process and its job is listed', async () => {
    const run = await runJson(embedded, ['echo listed']);
    assert.equal(run.code, 0);
    assert.ok(!existsSync(join(testHome.home, 'local-server.json')), 'a local server was started');
    const servers = (await processesMentioning('mags.js')).filter(
      (line) => line.includes(' server') && !line.startsWith(`${server.child.pid}:`),
    );
    assert.deepEqual(servers, []);
    const { createSqliteStateRepository } = await import(
      '../src/state/sqlite/sqlite-state-repository.ts'
    );
    const repository = createSqliteStateRepository(join(testHome.home, 'state.db'));
    try {
      const job = await repository.getJob('local', String(run.events[0]?.jobId));
      assert.equal(job?.status, 'succeeded');
      assert.equal(job?.endReason, 'exited');
      assert.equal(job?.sandboxId, run.events[0]?.sandboxId);
    } finally {
      await repository.close();
    }
  });

  test('-p shows the sync progress and summary, embedded and through a server alike', async () => {
    for (const [environment, workspace] of [
      [embedded, 'progress-here'],
      [remote, 'progress-there'],
    ] as const) {
      const run = await runCli(testHome.home, ['run', '-w', workspace, '-p', 'echo 1 > a'], {
        env: environment as Record<string, string>,
      });
      assert.equal(run.code, 0, run.stderr);
      // Not a terminal: the progress is a line now and then, and always the last one.
      assert.match(run.stderr, /^sync: (\d+)\/\1 files, /m, run.stderr);
      assert.match(run.stderr, new RegExp(`synced ${workspace} as version 1`), run.stderr);
    }
  });
});
