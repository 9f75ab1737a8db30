/**
 * The MCP tool contract over the SDK's in-memory transport: the SDK's own MCP client and the
 * mags MCP server in this process, the server's tools calling a real `mags server` (HTTP on
 * loopback, real sandboxes) with an owner's token, as `mags mcp` does.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createMcpServer } from '../src/mcp/create-mcp-server.ts';
import { runMcpToolContract } from './helpers/mcp-tool-contract.ts';
import { startTestServer } from './helpers/test-server.ts';

runMcpToolContract('an in-memory transport', async () => {
  const server = await startTestServer();
  const { mags } = await server.client('alice');
  const mcpServer = createMcpServer(mags);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await mcpServer.connect(serverTransport);
  const client = new Client({ name: 'mags-contract-test', version: '1.0.0' });
  await client.connect(clientTransport);
  return {
    client,
    mags,
    async close() {
      await client.close();
      await mcpServer.close();
      await server.close();
    },
  };
});
