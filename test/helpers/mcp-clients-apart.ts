/**
 * Twenty MCP clients of four owners at once against one `mags server`, whatever carries them
 * (HTTP sessions or stdio processes): the same check for each transport, so both keep asserting
 * the same things.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { callToolOk } from './mcp-clients.ts';
import type { TestServer } from './test-server.ts';

/** `Connection`: a connected client, with whatever else ending it needs (an HTTP transport). */
export interface ClientsApartOptions<Connection extends { client: Client }> {
  /** Four owners, five clients each (under the per-owner cap of 8 running jobs). */
  owners: string[];
  /** A connected client of the owner with `token`. */
  connect(token: string): Promise<Connection>;
  /** Ends a client (HTTP: DELETE the session first; stdio: close, which ends the process). */
  disconnect(connection: Connection): Promise<void>;
  /** Each call's timeout; none: the SDK's default. */
  timeoutMs?: number;
}

/**
 * Each of 20 clients makes its own sandbox, lists, and runs a command there: every one lists its
 * own and only its owner's sandboxes, gets its own echo back, and each owner then sees exactly its
 * five sandboxes. Every client is disconnected and every sandbox deleted, pass or fail.
 */
export async function assertClientsKeepApart<Connection extends { client: Client }>(
  server: TestServer,
  options: ClientsApartOptions<Connection>,
): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const owners = await Promise.all(
    options.owners.map(async (owner) => ({ owner, ...(await server.client(owner)) })),
  );
  const clients = await Promise.all(
    Array.from({ length: 20 }, async (_, index) => {
      const { owner, token, mags } = owners[index % owners.length] as (typeof owners)[number];
      return {
        owner,
        mags,
        name: `${owner}-${index}-${tag}`,
        connection: await options.connect(token),
      };
    }),
  );
  const ok = (client: Client, tool: string, args: Record<string, unknown>) =>
    callToolOk(client, tool, args, options.timeoutMs);
  try {
    const results = await Promise.allSettled(
      clients.map(async ({ owner, name, connection: { client } }) => {
        await ok(client, 'sandbox_create', { name, ephemeral: true });
        const listed = await ok(client, 'sandbox_list', {});
        const names = (listed.sandboxes as { name: string }[]).map((sandbox) => sandbox.name);
        assert.ok(names.includes(name), `${name} is listed`);
        assert.deepEqual(
          names.filter((each) => !each.startsWith(`${owner}-`)),
          [],
          `${owner} lists only its own sandboxes`,
        );
        const ran = await ok(client, 'run_command', {
          sandbox: name,
          command: `echo "I am ${name}"`,
        });
        assert.equal(ran.exitCode, 0, JSON.stringify(ran));
        assert.equal(String(ran.output).trim(), `I am ${name}`);
      }),
    );
    const failed = results.flatMap((result, index) =>
      result.status === 'rejected' ? [`${clients[index]?.name}: ${String(result.reason)}`] : [],
    );
    assert.deepEqual(failed, []);
    // Each owner sees exactly its 5 sandboxes once all are made.
    for (const { owner, mags } of owners) {
      const mine = (await mags.sandboxes.list()).map((sandbox) => sandbox.name).sort();
      const expected = clients.filter((each) => each.owner === owner).map((each) => each.name);
      assert.deepEqual(mine, expected.sort());
    }
  } finally {
    await Promise.all(
      clients.map(async ({ mags, name, connection }) => {
        await options.disconnect(connection).catch(() => {});
        await mags.sandboxes.delete(name).catch(() => {});
      }),
    );
  }
}
