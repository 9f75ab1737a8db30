/**
 * The MCP client set-up the MCP tests share: the SDK's own `Client` over streamable HTTP (on a
 * server's /mcp) or over stdio (spawning the built CLI's `mags mcp`, as an agent's config does),
 * calling a tool, reading a result's text, and the raw `initialize` a non-SDK client sends. Only
 * set-up lives here; what each test asserts stays in the test.
 */
import assert from 'node:assert/strict';
import type { IOType } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { packageRoot } from '../../src/config/package-paths.ts';

/** A connected client with its transport: HTTP tests need the transport for its session id and DELETE. */
export interface HttpMcpConnection {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

/**
 * The SDK's MCP client on `/mcp` of `url`, with `Authorization: Bearer token` when a token is
 * given (none: no header, to see the server refuse it). Rejects as `client.connect` does.
 */
export async function connectMcpOverHttp(
  url: string,
  token: string | undefined,
  name = 'mags-mcp-test',
): Promise<HttpMcpConnection> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
    requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : {},
  });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

/** Ends the session the way a polite client does (DELETE /mcp), then the client. */
export async function disconnectMcp({ client, transport }: HttpMcpConnection): Promise<void> {
  await transport.terminateSession();
  await client.close();
}

/**
 * The environment of a `mags mcp` that talks to the server at `url` with `token`: MAGS_HOME and
 * XDG_CONFIG_HOME under `home`, so it reads no config of the machine running the tests.
 */
export function magsMcpEnv(home: string, url: string, token: string): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    MAGS_HOME: home,
    MAGS_URL: url,
    MAGS_API_TOKEN: token,
    XDG_CONFIG_HOME: join(home, 'config'),
  };
}

export interface StdioMcpOptions {
  /** The whole environment of `mags mcp` (see `magsMcpEnv`). */
  env: Record<string, string>;
  /** Arguments after `mcp`, e.g. `--url`. */
  args?: string[];
  /** What becomes of its stderr; tests that read it or want it quiet say so. */
  stderr?: IOType;
  name?: string;
}

/**
 * Spawns the built CLI's `mags mcp` (`process.execPath bin/mags.js mcp`) with the SDK's stdio
 * transport and connects the SDK's client to it. Rejects as `client.connect` does.
 */
export async function spawnMcpOverStdio(
  options: StdioMcpOptions,
): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(packageRoot(), 'bin', 'mags.js'), 'mcp', ...(options.args ?? [])],
    env: options.env,
    stderr: options.stderr ?? 'pipe',
  });
  const client = new Client({ name: options.name ?? 'mags-mcp-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

/** A tool result's text parts joined by newlines (a non-text part adds an empty line). */
export const toolText = (result: CallToolResult): string =>
  result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');

/** Calls a tool; `timeoutMs` replaces the SDK's default request timeout (60 s) when given. */
export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  timeoutMs?: number,
): Promise<CallToolResult> {
  const options = timeoutMs === undefined ? undefined : { timeout: timeoutMs };
  return (await client.callTool({ name, arguments: args }, undefined, options)) as CallToolResult;
}

/** Calls a tool that must succeed (its text in the failure message): its structured content. */
export async function callToolOk(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  timeoutMs?: number,
): Promise<Record<string, unknown>> {
  const result = await callTool(client, name, args, timeoutMs);
  assert.notEqual(result.isError, true, `${name} failed: ${toolText(result)}`);
  return result.structuredContent as Record<string, unknown>;
}

/** The raw JSON-RPC `initialize` request a client that is not the SDK sends first. */
export function rawInitializeMessage(clientName = 'raw') {
  return {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: clientName, version: '1' },
    },
  };
}
