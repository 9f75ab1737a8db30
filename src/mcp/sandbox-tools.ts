import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Mags } from '../sdk/mags.ts';

// SCAFFOLD: filled in by the helper that owns this file.
export function registerSandboxTools(_server: McpServer, _client: Mags): void {}
