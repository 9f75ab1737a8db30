/**
 * `mags mcp` on this host's local server: the config `--config` prints for an agent, and a
 * session that outlives a restart of the local server (new port, new token).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';
import { spawnMcpOverStdio } from './helpers/mcp-clients.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const cli = join(packageRoot(), 'bin', 'mags.js');
const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the local-server restart test: ${skip}\n`);

describe('mags mcp --config', () => {
  let testHome: TestHome;
  before(async () => {
    testHome = await createTestHome();
  });
  after(() => testHome.cleanup());

  test('claude and cursor: mcpServers.mags starts this checkout with this Node.js, absolute paths', async () => {
    for (const client of ['claude', 'cursor']) {
      const result = await runCli(testHome.home, ['mcp', '--config', client]);
      assert.equal(result.code, 0, result.stderr);
      const config = JSON.parse(result.stdout.toString()) as {
        mcpServers: { mags: { command: string; args: string[] } };
      };
      const { command, args } = config.mcpServers.mags;
      // runCli spawns the CLI with this test's own Node.js.
      assert.equal(command, process.execPath);
      assert.deepEqual(args, [cli, 'mcp']);
      assert.ok(isAbsolute(args[0] as string) && existsSync(args[0] as string));
    }
  });

  test('codex: a [mcp_servers.mags] table with a tool timeout long enough for builds', async () => {
    const result = await runCli(testHome.home, ['mcp', '--config', 'codex']);
    assert.equal(result.code, 0, result.stderr);
    const text = result.stdout.toString();
    assert.match(text, /^\[mcp_servers\.mags\]\n/);
    assert.ok(text.includes(`command = ${JSON.stringify(process.execPath)}\n`), text);
    assert.ok(text.includes(`args = [${JSON.stringify(cli)}, "mcp"]\n`), text);
    assert.match(text, /\ntool_timeout_sec = 3600\n/);
    assert.match(text, /\nstartup_timeout_sec = \d+\n/);
  });

  test('an unknown client is an error naming the ones there are, and nothing on stdout', async () => {
    const result = await runCli(testHome.home, ['mcp', '--config', 'vscode']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout.toString(), '');
    assert.match(result.stderr, /Unknown MCP client "vscode"/);
    assert.match(result.stderr, /claude, cursor, codex/);
  });
});

describe('mags mcp on the local server', { skip }, () => {
  let testHome: TestHome;
  let env: Record<string, string>;
  before(async () => {
    testHome = await createTestHome();
    const {
      MAGS_URL: _url,
      MAGS_API_TOKEN: _token,
      ...rest
    } = process.env as Record<string, string>;
    env = { ...rest, MAGS_HOME: testHome.home, XDG_CONFIG_HOME: join(testHome.home, 'config') };
  });
  after(async () => {
    await runCli(testHome.home, ['server', 'stop'], { env });
    await testHome.cleanup();
  });

  const localPid = async () =>
    (
      JSON.parse(await readFile(join(testHome.home, 'local-server.json'), 'utf8')) as {
        pid: number;
      }
    ).pid;

  test('keeps working after the local server restarts (a new port and token)', async () => {
    const { client } = await spawnMcpOverStdio({ env, stderr: 'pipe' });
    try {
      const before = await client.callTool({ name: 'sandbox_list', arguments: {} });
      assert.equal(before.isError, undefined, JSON.stringify(before.content));
      const firstPid = await localPid();
      const stopped = await runCli(testHome.home, ['server', 'stop'], { env });
      assert.equal(stopped.code, 0, stopped.stderr);
      const again = await client.callTool({ name: 'sandbox_list', arguments: {} });
      assert.equal(again.isError, undefined, JSON.stringify(again.content));
      assert.notEqual(await localPid(), firstPid, 'a new local server was started');
    } finally {
      await client.close();
    }
  });
});
