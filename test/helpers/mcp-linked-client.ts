import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer } from '../../src/mcp/create-mcp-server.ts';
import type { Mags } from '../../src/sdk/mags.ts';

export interface LinkedMcpClient {
  client: Client;
  /** Calls a tool and returns its result as the client received it. */
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** Calls a tool that must succeed; its text and structured content. */
  ok(
    name: string,
    args: Record<string, unknown>,
  ): Promise<{ text: string; value: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** The text parts of a tool result, joined. */
export const resultText = (result: CallToolResult) =>
  result.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n');

/**
 * The official SDK's MCP `Client` linked in memory to `createMcpServer(mags)`: the whole MCP
 * protocol (initialize, schemas, validation, notifications) without a transport of ours.
 */
export async function linkedMcpClient(mags: Mags): Promise<LinkedMcpClient> {
  const server = createMcpServer(mags);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'mags-test', version: '1.0.0' });
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  const call = async (name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    client,
    call,
    async ok(name, args) {
      const result = await call(name, args);
      assert.notEqual(result.isError, true, `${name} failed: ${resultText(result)}`);
      return { text: resultText(result), value: result.structuredContent ?? {} };
    },
    async close() {
      await client.close();
      await server.close();
    },
  };
}
