/**
 * `mags mcp` as an agent runs it: the built CLI spawned over stdio by the MCP SDK's own client
 * (and by hand, to see every byte of stdout), against a real `mags server` process.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Job } from '../src/api/schemas.ts';
import { packageRoot } from '../src/config/package-paths.ts';
import { Mags } from '../src/sdk/mags.ts';
import { magsMcpEnv, rawInitializeMessage, spawnMcpOverStdio } from './helpers/mcp-clients.ts';
import { startServerProcess, stopServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const cli = join(packageRoot(), 'bin', 'mags.js');
const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping mags mcp tests that need a server: ${skip}\n`);

const initialize = rawInitializeMessage('raw-test');

interface RawSession {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Spawns `mags mcp`, writes `messages` one per line, waits until `expectedResponses` responses
 * came back, then closes stdin (what a client does when it quits) and waits for the exit.
 */
function rawSession(
  env: NodeJS.ProcessEnv,
  messages: object[],
  expectedResponses: number,
  args: string[] = [],
): Promise<RawSession> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'mcp', ...args], { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const responses = stdout.split('\n').filter((line) => line.includes('"id"')).length;
      if (responses >= expectedResponses) child.stdin.end();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
    for (const message of messages) child.stdin.write(`${JSON.stringify(message)}\n`);
  });
}

/** Every line of stdout is one JSON-RPC 2.0 message: anything else would break the client. */
function assertOnlyJsonRpc(stdout: string): object[] {
  assert.ok(stdout.endsWith('\n'), `stdout ends mid-line: ${JSON.stringify(stdout.slice(-200))}`);
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => {
      const message = JSON.parse(line) as { jsonrpc?: string };
      assert.equal(message.jsonrpc, '2.0', `not JSON-RPC: ${line}`);
      return message;
    });
}

describe('mags mcp without a reachable server', () => {
  let testHome: TestHome;
  before(async () => {
    testHome = await createTestHome();
  });
  after(() => testHome.cleanup());

  test('an unreachable --url ends it before the handshake: exit 1, the reason on stderr, stdout empty', async () => {
    const result = await runCli(testHome.home, ['mcp', '--url', 'http://127.0.0.1:1'], {
      input: `${JSON.stringify(initialize)}\n`,
      env: { XDG_CONFIG_HOME: join(testHome.home, 'config') },
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout.toString(), '');
    assert.match(result.stderr, /Cannot reach the mags server at http:\/\/127\.0\.0\.1:1/);
    assert.match(result.stderr, /hint: /);
  });

  test('the SDK client sees the connection fail, not a hang', async () => {
    const spawned = spawnMcpOverStdio({
      env: { ...(process.env as Record<string, string>), MAGS_HOME: testHome.home },
      args: ['--url', 'http://127.0.0.1:1'],
      stderr: 'pipe',
    });
    await assert.rejects(spawned, /Connection closed/);
  });
});

describe('mags mcp over stdio against a real server', { skip }, () => {
  let testHome: TestHome;
  let server: { child: ChildProcess; url: string };
  let env: Record<string, string>;
  before(async () => {
    testHome = await createTestHome();
    server = await startServerProcess({ ...process.env, MAGS_HOME: testHome.home }, [
      '--pool-size',
      '0',
    ]);
    const created = await runCli(testHome.home, ['token', 'create', '--owner', 'alice']);
    assert.equal(created.code, 0, created.stderr);
    env = magsMcpEnv(testHome.home, server.url, created.stdout.toString().trim());
  });
  after(async () => {
    await stopServerProcess(server?.child, { stopSandboxes: true });
    await testHome.cleanup();
  });

  test('stdout carries only JSON-RPC, and closing stdin ends the process with exit code 0', async () => {
    const session = await rawSession(
      env,
      [
        initialize,
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'ping' },
        { jsonrpc: '2.0', id: 3, method: 'no/such/method' },
      ],
      3,
    );
    const messages = assertOnlyJsonRpc(session.stdout) as Array<{
      id?: number;
      result?: { serverInfo?: { name: string }; instructions?: string };
      error?: { code: number };
    }>;
    assert.equal(messages.find((message) => message.id === 1)?.result?.serverInfo?.name, 'mags');
    assert.deepEqual(messages.find((message) => message.id === 2)?.result, {});
    assert.equal(messages.find((message) => message.id === 3)?.error?.code, -32601);
    assert.equal(session.signal, null, `killed: ${session.stderr}`);
    assert.equal(session.code, 0, session.stderr);
    assert.match(session.stderr, /mags mcp: serving http:\/\/127\.0\.0\.1:\d+ as alice/);
  });

  test('a token the server refuses ends it before the handshake with exit 1', async () => {
    const session = await rawSession({ ...env, MAGS_API_TOKEN: 'not-a-token' }, [initialize], 1);
    assert.equal(session.code, 1);
    assert.equal(session.stdout, '');
    assert.match(session.stderr, /^mags: .*token/im);
  });

  test("the SDK's own client connects, reads the server's instructions and closes it cleanly", async () => {
    const { client, transport } = await spawnMcpOverStdio({ env, stderr: 'pipe' });
    assert.equal(client.getServerVersion()?.name, 'mags');
    assert.match(client.getInstructions() ?? '', /sandbox/);
    const pid = transport.pid as number;
    await client.close();
    assert.equal(alive(pid), false, 'mags mcp still runs after the client closed');
  });

  test('a client that quits mid-command: mags mcp stops the command and exits', async () => {
    const mags = new Mags({ url: server.url, token: env.MAGS_API_TOKEN as string });
    await mags.sandboxes.create({ name: 'quitter' });
    const { client, transport } = await spawnMcpOverStdio({ env, stderr: 'pipe' });
    const pid = transport.pid as number;
    const pending = client
      .callTool({ name: 'run_command', arguments: { sandbox: 'quitter', command: 'sleep 120' } })
      .catch((error: unknown) => error);
    let running: Job | undefined;
    await waitUntil(async () => {
      const { jobs } = await mags.jobs.list({ sandbox: 'quitter', status: 'running' });
      running = jobs[0];
      return running !== undefined;
    }, 30_000);
    // What an agent does when it quits: close stdin, then signal the process if it lingers.
    await client.close();
    assert.ok((await pending) instanceof Error, 'the pending call ends with the connection');
    let ended: Job | undefined;
    await waitUntil(async () => {
      ended = await mags.jobs.get(String(running?.id));
      return ended.finishedAt !== null;
    }, 30_000);
    assert.equal(ended?.status, 'stopped');
    assert.equal(alive(pid), false, 'mags mcp still runs after the client closed');
    await mags.sandboxes.delete('quitter');
  });

  test('without --url or MAGS_URL it starts the local server on demand, and stdout stays JSON-RPC', async () => {
    const { MAGS_URL: _url, MAGS_API_TOKEN: _token, ...local } = env;
    const session = await rawSession(local, [initialize], 1);
    try {
      assertOnlyJsonRpc(session.stdout);
      assert.equal(session.code, 0, session.stderr);
      assert.match(session.stderr, /serving http:\/\/127\.0\.0\.1:\d+ as local/);
    } finally {
      const file = await readFile(join(testHome.home, 'local-server.json'), 'utf8').catch(
        () => undefined,
      );
      if (file) process.kill((JSON.parse(file) as { pid: number }).pid, 'SIGTERM');
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
