import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Mags } from '../sdk/mags.ts';
import { registerCommandTools } from './command-tools.ts';
import { registerFileTools } from './file-tools.ts';
import { registerMcpPrompts } from './mcp-prompts.ts';
import { registerMcpResources } from './mcp-resources.ts';
import { registerSandboxTools } from './sandbox-tools.ts';
import { registerTicketTools } from './ticket-tools.ts';
import { registerWorkspaceTools } from './workspace-tools.ts';

/**
 * The MCP server of one client connection: every tool acts through `client`, the REST API with
 * the caller's own token, so validation, owner isolation, limits and forwarding to other hosts
 * are the API's, never re-implemented here. `mags mcp` gives it a client of the chosen server
 * (stdio); `mags server` gives each /mcp session an in-process client with the session's token.
 */
export function createMcpServer(client: Mags): McpServer {
  const server = new McpServer(
    { name: 'mags', version: '0.1.0' },
    {
      capabilities: { logging: {} },
      instructions:
        'mags runs commands in isolated, disposable Linux sandboxes. Create a sandbox (or reuse ' +
        'one from sandbox_list), then run commands and read and write files in it. A workspace ' +
        'name keeps files across sandboxes and can be synced, versioned and forked.',
    },
  );
  registerSandboxTools(server, client);
  registerCommandTools(server, client);
  registerFileTools(server, client);
  registerWorkspaceTools(server, client);
  registerTicketTools(server, client);
  registerMcpResources(server, client);
  registerMcpPrompts(server, client);
  return server;
}
