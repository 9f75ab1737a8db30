import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Mags } from '../sdk/mags.ts';
import { createMcpServer } from './create-mcp-server.ts';

/**
 * The MCP server of one `/mcp` session of `mags server`: its SDK client sends every request to
 * `fetch` (the server's own app, in-process) with the session's token. Here because the server
 * layer sits below the SDK and may not make a `Mags` itself (test/import-layers.test.ts).
 */
export function createMcpServerOnFetch(options: {
  /** The server's URL as the MCP client reached it: links the API builds start with it. */
  url: string;
  token: string | undefined;
  fetch: typeof fetch;
}): McpServer {
  const { url, token, fetch } = options;
  return createMcpServer(new Mags({ url, fetch, ...(token ? { token } : {}) }));
}
