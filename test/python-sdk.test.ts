/**
 * The Python SDK (sdk/python) against a real `mags server` with real sandboxes: its own unittest
 * suite, run by Debian's python3 with MAGS_URL and MAGS_API_TOKEN pointing at the server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const python = '/usr/bin/python3';
const skip = existsSync(python)
  ? sandboxSkipReason()
  : `${python} is missing (apt-get install python3; scripts/setup.sh installs it)`;
if (skip) process.stdout.write(`# skipping Python SDK tests: ${skip}\n`);

const sdkDirectory = join(packageRoot(), 'sdk', 'python');

/** Runs python3 with only the given environment (none of the developer's MAGS_* leaks in). */
function runPython(
  args: string[],
  environment: Record<string, string>,
  cwd = sdkDirectory,
  onStdout: (text: string) => void = () => {},
): Promise<{ code: number | null; stdout: string; output: string }> {
  return new Promise((resolve, reject) => {
    // Asynchronous: the server answering the tests runs in this process.
    const child = spawn(python, args, {
      cwd,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PYTHONDONTWRITEBYTECODE: '1',
        PYTHONPATH: sdkDirectory,
        ...environment,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
      onStdout(chunk.toString());
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, output }));
  });
}

describe('Python SDK (sdk/python) against a real server', { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('its unittest suite passes, the server tests included', { timeout: 300_000 }, async () => {
    const { token } = await server.client('python');
    const { code, output } = await runPython(['-m', 'unittest', 'discover', '-s', 'tests', '-v'], {
      MAGS_URL: server.url,
      MAGS_API_TOKEN: token,
    });
    assert.equal(code, 0, output);
    assert.match(output, /\nOK\n/, output);
    // The suite skips its server tests without MAGS_URL: here none may be skipped.
    assert.doesNotMatch(output, /skipped/, output);
    const ran = Number(/Ran (\d+) tests?/.exec(output)?.[1]);
    assert.ok(ran >= 23, `ran ${ran} tests:\n${output}`);
    for (const name of [
      'test_run_and_wait_streams_the_output_and_the_exit_code',
      'test_a_download_cut_short_leaves_the_file_the_user_had',
      'test_output_ending_inside_a_character_is_not_dropped',
      'test_a_sandbox_runs_commands_and_its_files_are_read_and_written',
      'test_a_workspace_keeps_writes_syncs_versions_and_forks',
    ]) {
      assert.match(
        output,
        new RegExp(`${name} \\(test_server\\.ServerTest\\.${name}\\) \\.\\.\\. ok`),
      );
    }
  });

  test('MAGS_TOKEN is accepted for the token too; a wrong one is an AuthenticationError', async () => {
    const { token } = await server.client('python');
    const script = [
      'import mags',
      'print(mags.Mags().whoami()["owner"])',
      'try:',
      '    mags.Mags(token="wrong").whoami()',
      'except mags.AuthenticationError as error:',
      '    print(error.code, error.status_code)',
    ].join('\n');
    const { stdout } = await runPython(['-c', script], { MAGS_URL: server.url, MAGS_TOKEN: token });
    assert.equal(stdout, 'python\nunauthorized 401\n');
  });

  test("the README's Python example runs as written", async () => {
    const readme = await readFile(join(packageRoot(), 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Python SDK'));
    const example = /```python\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(example, 'README.md has a ```python block under ### Python SDK');
    const { token } = await server.client('readme');
    const directory = await mkdtemp(join(tmpdir(), 'mags-python-readme-'));
    try {
      const { code, stdout, output } = await runPython(
        ['-c', example],
        { MAGS_URL: server.url, MAGS_API_TOKEN: token },
        directory,
      );
      assert.equal(code, 0, output);
      assert.equal(
        stdout,
        "hello\n0 exited\n['input.json', 'out.tar']\n1\nsandbox_not_found 404\n",
      );
      // The download landed in the working directory: a tar of the file written before.
      assert.ok((await stat(join(directory, 'out.tar'))).size >= 1024);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  test('a log stream cut mid-job is resumed: every byte once, in order', async () => {
    const { token, mags } = await server.client('python-resume');
    const name = 'resume';
    await mags.sandboxes.create({ name, sleep: false });
    const relay = await startTcpRelay(Number(new URL(server.url).port));
    try {
      // The command waits for /tmp/go; its first line makes the script say "heard", on which the
      // relay cuts the script's connections and then /tmp/go is written (directly, not through it).
      const script = [
        'import sys, mags',
        'client = mags.Mags()',
        'job = client.sandboxes.exec(sys.argv[1], "echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second")',
        'def on_stdout(text):',
        '    print("heard", flush=True)',
        'result = client.jobs.wait(job["id"], on_stdout=on_stdout)',
        'print("result", repr(result.stdout), result.exit_code, flush=True)',
      ].join('\n');
      let cut: Promise<void> | undefined;
      const { code, stdout, output } = await runPython(
        ['-c', script, name],
        { MAGS_URL: `http://127.0.0.1:${relay.port}`, MAGS_API_TOKEN: token },
        sdkDirectory,
        (text) => {
          if (cut || !text.includes('heard')) return;
          const acceptedBefore = relay.accepted;
          relay.dropAll();
          cut = mags.sandboxes.files.write(name, '/tmp/go', '').then(() => {
            assert.ok(acceptedBefore >= 2, 'the exec and the log stream went through the relay');
          });
        },
      );
      await cut;
      assert.equal(code, 0, output);
      assert.match(stdout, /result 'first\\nsecond\\n' 0\n$/);
      // The log stream connected again after the cut.
      assert.ok(relay.accepted >= 3, `the relay accepted ${relay.accepted} connections`);
    } finally {
      await relay.close();
      await mags.sandboxes.delete(name);
    }
  });
});

/** A TCP port on 127.0.0.1 that relays to the server's port and can cut every connection. */
async function startTcpRelay(targetPort: number) {
  const open = new Set<Socket>();
  let accepted = 0;
  const relay = createServer((downstream) => {
    accepted++;
    const upstream = connect(targetPort, '127.0.0.1');
    open.add(downstream).add(upstream);
    const end = () => {
      downstream.destroy();
      upstream.destroy();
      open.delete(downstream);
      open.delete(upstream);
    };
    for (const socket of [downstream, upstream]) socket.on('error', end).on('close', end);
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    get accepted() {
      return accepted;
    },
    dropAll() {
      for (const socket of open) socket.destroy();
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}
