/**
 * Twenty agents at once over stdio: each spawns its own `mags mcp` (the built CLI, as an agent's
 * config does) against one real `mags server`, for four owners (five each: under the per-owner
 * cap of 8 running jobs). Each makes its own sandbox, lists, and runs a command there; no answer
 * may reach another client, and no owner may see another's sandboxes.
 */
import { after, before, describe, test } from 'node:test';
import { magsMcpEnv, spawnMcpOverStdio } from './helpers/mcp-clients.ts';
import { assertClientsKeepApart } from './helpers/mcp-clients-apart.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the concurrent stdio MCP test: ${skip}\n`);

describe('MCP over stdio, 20 clients at once', { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.close();
  });

  test('20 mags mcp processes of 4 owners each create, list and run in their own sandbox, without cross-talk', async () => {
    await assertClientsKeepApart(server, {
      owners: ['stdio-a', 'stdio-b', 'stdio-c', 'stdio-d'],
      connect: (token) =>
        spawnMcpOverStdio({
          env: magsMcpEnv(server.testHome.home, server.url, token),
          stderr: 'ignore',
          name: 'mags-stdio-many',
        }),
      // Closing stdin ends the `mags mcp` process.
      disconnect: ({ client }) => client.close(),
    });
  });
});
