/**
 * The MCP tool contract over stdio: the SDK's own MCP client spawns the built CLI's `mags mcp`,
 * as an agent does from its config, and its tools call a real `mags server` (HTTP on loopback,
 * real sandboxes) with an owner's token, given through MAGS_URL and MAGS_API_TOKEN.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { packageRoot } from '../src/config/package-paths.ts';
import { runMcpToolContract } from './helpers/mcp-tool-contract.ts';
import { startTestServer } from './helpers/test-server.ts';

runMcpToolContract('stdio (mags mcp)', async () => {
  const server = await startTestServer();
  const { mags, token } = await server.client('alice');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(packageRoot(), 'bin', 'mags.js'), 'mcp'],
    env: {
      ...(process.env as Record<string, string>),
      MAGS_HOME: server.testHome.home,
      MAGS_URL: server.url,
      MAGS_API_TOKEN: token,
      XDG_CONFIG_HOME: join(server.testHome.home, 'config'),
    },
    stderr: 'inherit',
  });
  const client = new Client({ name: 'mags-contract-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    mags,
    async close() {
      await client.close();
      await server.close();
    },
  };
});
