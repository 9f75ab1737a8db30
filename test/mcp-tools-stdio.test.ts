/**
 * The MCP tool contract over stdio: the SDK's own MCP client spawns the built CLI's `mags mcp`,
 * as an agent does from its config, and its tools call a real `mags server` (HTTP on loopback,
 * real sandboxes) with an owner's token, given through MAGS_URL and MAGS_API_TOKEN.
 */
import { magsMcpEnv, spawnMcpOverStdio } from './helpers/mcp-clients.ts';
import { runMcpToolContract } from './helpers/mcp-tool-contract.ts';
import { startTestServer } from './helpers/test-server.ts';

runMcpToolContract('stdio (mags mcp)', async () => {
  const server = await startTestServer();
  const { mags, token } = await server.client('alice');
  const { client } = await spawnMcpOverStdio({
    env: magsMcpEnv(server.testHome.home, server.url, token),
    stderr: 'inherit',
    name: 'mags-contract-test',
  });
  return {
    client,
    mags,
    async close() {
      await client.close();
      await server.close();
    },
  };
});
