/**
 * The MCP ticket tools and ticket resources through the official SDK's MCP Client (linked in
 * memory to `createMcpServer` over an SDK client of a real `mags server` with the real ticket
 * parts and scripted models): create, follow the events with progress notifications to review,
 * the cursor, the evidence summarised and whole as a resource; a follow cut by its timeout or by
 * the client's cancellation leaves the ticket running; bad arguments and another owner's ticket
 * are tool errors (resources: JSON-RPC errors).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Mags } from '../src/sdk/mags.ts';
import {
  call,
  type EndToEndServer,
  finish,
  startEndToEndServer,
} from './helpers/end-to-end-tickets.ts';
import { type LinkedMcpClient, linkedMcpClient, resultText } from './helpers/mcp-linked-client.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping MCP ticket tool tests: ${skip}\n`);

const fix = call('edit_file', { path: 'sum.js', oldText: 'a - b', newText: 'a + b' });
const runTests = call('run_command', { command: 'node --test' });

interface EventsValue {
  status: string;
  nextAfter: number;
  more: boolean;
  timedOut: boolean;
  events: Array<{ id: number; type: string; line: string }>;
}

describe('MCP ticket tools against a real server', { skip }, () => {
  let e2e: EndToEndServer;
  let mcp: LinkedMcpClient;
  let bobMcp: LinkedMcpClient;
  let ticketId: string;
  before(async () => {
    e2e = await startEndToEndServer();
    mcp = await linkedMcpClient(e2e.alice);
    bobMcp = await linkedMcpClient(e2e.bob);
  });
  after(async () => {
    await mcp?.close();
    await bobMcp?.close();
    await e2e?.close();
  });

  test('create, follow with progress notifications to review, then the evidence summarised', async () => {
    const oracle = e2e.model([
      { text: 'sum subtracts; fixing it.', ...fix },
      runTests,
      finish('sum adds now', true),
    ]);
    const body = e2e.body(oracle.id);
    const created = await mcp.ok('ticket_create', {
      project: body.project,
      title: body.title,
      request: body.request,
      criteria: body.criteria,
      model: oracle.id,
      maxSteps: 10,
    });
    const ticket = created.value.ticket as {
      id: string;
      status: string;
      budget: { maxSteps: number };
    };
    ticketId = ticket.id;
    assert.equal(ticket.status, 'queued', 'run defaults to true');
    assert.equal(ticket.budget.maxSteps, 10);
    assert.match(created.text, /^Created tkt_\S+ \[queued\] "sum subtracts"/);

    const progress: Array<{ progress: number; message?: string }> = [];
    const followed = (await mcp.client.callTool(
      { name: 'ticket_events', arguments: { ticketId, follow: true } },
      undefined,
      { onprogress: (update) => progress.push(update), resetTimeoutOnProgress: true },
    )) as unknown as {
      isError?: boolean;
      structuredContent: EventsValue;
      content: Array<{ type: string; text: string }>;
    };
    assert.notEqual(followed.isError, true, followed.content[0]?.text);
    const value = followed.structuredContent;
    assert.equal(value.status, 'awaiting_review');
    assert.equal(value.timedOut, false);
    assert.equal(value.more, false);
    // One progress notification per event, numbered, each the event's line.
    assert.equal(progress.length, value.events.length);
    assert.deepEqual(
      progress.map((update) => update.progress),
      value.events.map((_event, index) => index + 1),
    );
    assert.deepEqual(
      progress.map((update) => update.message),
      value.events.map((event) => event.line),
    );
    assert.equal(value.nextAfter, value.events.at(-1)?.id);
    const text = followed.content[0]?.text ?? '';
    assert.match(text, /status \(new\) → draft/);
    assert.match(text, /model text: sum subtracts; fixing it\./, 'text deltas are joined');
    assert.match(text, /tool call edit_file/);
    assert.match(text, /check command `node -e .*`: exit 0/);
    assert.match(text, /status running → awaiting_review/);
    assert.match(text, /is awaiting_review .* Review it with ticket_evidence\.$/);

    // Polling with the cursor: nothing new; from the start in pages of 3 without gaps.
    const nothing = await mcp.ok('ticket_events', { ticketId, after: value.nextAfter });
    assert.deepEqual((nothing.value as unknown as EventsValue).events, []);
    assert.match(nothing.text, new RegExp(`^No events after #${value.nextAfter}\\.`));
    const ids: number[] = [];
    let cursor = 0;
    for (let page = 0; page < 100; page++) {
      const next = (await mcp.ok('ticket_events', { ticketId, after: cursor, maxEvents: 3 }))
        .value as unknown as EventsValue;
      ids.push(...next.events.map((event) => event.id));
      assert.ok(next.events.length <= 3);
      cursor = next.nextAfter;
      if (!next.more) break;
    }
    assert.deepEqual(
      ids,
      value.events.map((event) => event.id),
    );

    const evidence = await mcp.ok('ticket_evidence', { ticketId });
    assert.equal(evidence.value.allMet, true);
    assert.deepEqual(evidence.value.changedFiles, ['sum.js']);
    assert.deepEqual(
      (
        evidence.value.criteria as Array<{ criterion: number; status: string; claimedMet: boolean }>
      ).map((criterion) => [criterion.criterion, criterion.status, criterion.claimedMet]),
      [[1, 'met', true]],
    );
    assert.match(
      evidence.text,
      /1\. MET: sum adds \(check `node -e .*` exit 0; the agent claims met\)/,
    );
    assert.match(evidence.text, /Tests `node --test`: exit 0, 2 passed, 0 failed/);
    assert.match(evidence.text, /Changed files: sum\.js \+1 -1/);
    assert.match(evidence.text, new RegExp(`mags://tickets/${ticketId}/evidence`));

    const got = await mcp.ok('ticket_get', { ticketId });
    assert.match(got.text, /\[awaiting_review: all 1 criteria met; tests passed\]/);
    assert.match(got.text, /1\. sum adds \(check: node -e/);
    const listed = await mcp.ok('ticket_list', { status: 'awaiting_review' });
    assert.ok(
      (listed.value.tickets as Array<{ id: string }>).some((entry) => entry.id === ticketId),
    );
    const none = await mcp.ok('ticket_list', { status: 'approved' });
    assert.deepEqual(none.value.tickets, []);
  });

  test('the evidence and events resources: whole JSON; listed; a missing one is a JSON-RPC error', async () => {
    const read = await mcp.client.readResource({ uri: `mags://tickets/${ticketId}/evidence` });
    const content = read.contents[0] as { mimeType?: string; text: string };
    assert.equal(content.mimeType, 'application/json');
    const evidence = JSON.parse(content.text);
    assert.equal(evidence.ticket, ticketId);
    assert.match(evidence.diff, /\+exports\.sum = \(a, b\) => a \+ b;/);
    const events = JSON.parse(
      (
        (await mcp.client.readResource({ uri: `mags://tickets/${ticketId}/events` }))
          .contents[0] as {
          text: string;
        }
      ).text,
    );
    assert.equal(events[0].data.type, 'status');
    assert.equal(events.at(-1).data.to, 'awaiting_review');

    const { resources } = await mcp.client.listResources();
    assert.ok(resources.some((resource) => resource.uri === `mags://tickets/${ticketId}/evidence`));
    const { resourceTemplates } = await mcp.client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((template) => template.uriTemplate).sort(), [
      'mags://jobs/{jobId}/log',
      'mags://tickets/{ticketId}/events',
      'mags://tickets/{ticketId}/evidence',
    ]);

    for (const [client, uri, expected] of [
      [
        mcp,
        'mags://tickets/tkt_missing/evidence',
        /mags:\/\/tickets\/tkt_missing\/evidence: .*tkt_missing/,
      ],
      [bobMcp, `mags://tickets/${ticketId}/evidence`, new RegExp(`${ticketId}`)],
      [bobMcp, `mags://tickets/${ticketId}/events`, new RegExp(`${ticketId}`)],
    ] as const) {
      await assert.rejects(client.client.readResource({ uri }), (error: unknown) => {
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, -32002, error.message);
        assert.match(error.message, expected);
        return true;
      });
    }
    const bobs = await bobMcp.client.listResources();
    assert.ok(bobs.resources.every((resource) => !resource.uri.includes(ticketId)));
  });

  test('a follow ends at its timeout, or when the client cancels it; the ticket runs on', async () => {
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first step waits until the test releases it: the ticket is running meanwhile.
    const slow = e2e.model(async (step) => {
      if (step === 0) await held;
      return step === 0 ? { text: 'thinking' } : finish('done', false);
    });
    const created = await e2e.alice.tickets.create(e2e.body(slow.id));
    try {
      const timed = await mcp.ok('ticket_events', {
        ticketId: created.id,
        follow: true,
        timeoutSeconds: 1,
      });
      const value = timed.value as unknown as EventsValue;
      assert.equal(value.timedOut, true);
      assert.equal(value.status, 'running');
      assert.match(timed.text, /The wait timed out while it still runs: call again to go on\./);

      // A client whose API requests are seen: the event stream the follow opens must be
      // aborted when the MCP client cancels, not left open against the API.
      const streams: AbortSignal[] = [];
      const seen = await linkedMcpClient(
        new Mags({
          url: e2e.server.url,
          token: e2e.aliceToken,
          fetch: (input, init) => {
            if (String(input).includes('/events') && init?.signal) streams.push(init.signal);
            return fetch(input, init);
          },
        }),
      );
      const cancel = new AbortController();
      const progress: number[] = [];
      const following = seen.client.callTool(
        { name: 'ticket_events', arguments: { ticketId: created.id, follow: true } },
        undefined,
        { signal: cancel.signal, onprogress: (update) => progress.push(update.progress) },
      );
      // Progress arrives (the stored events), then the client cancels mid-follow.
      while (progress.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      cancel.abort('the user moved on');
      await assert.rejects(following, /moved on|abort/i);
      assert.equal(streams.length, 1);
      for (let waited = 0; !streams[0]?.aborted && waited < 5000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(streams[0]?.aborted, true, "the follow's API stream was aborted");
      await seen.close();
      assert.equal((await e2e.alice.tickets.get(created.id)).status, 'running');
      // The session goes on: the next call answers.
      const after = await mcp.ok('ticket_get', { ticketId: created.id });
      assert.match(after.text, /\[running: attempt 1\]/);
    } finally {
      release?.();
      await e2e.alice.tickets.stop(created.id).catch(() => undefined);
    }
  });

  test('bad arguments and refusals are isError results; another owner sees no ticket', async () => {
    const criteria = [{ text: 'works' }];
    const cases: Array<[LinkedMcpClient, string, Record<string, unknown>, RegExp]> = [
      [
        mcp,
        'ticket_create',
        { project: 'calc', title: 't', request: 'r' },
        /Input validation error: .*criteria/s,
      ],
      [
        mcp,
        'ticket_create',
        { project: 'calc', title: 't', request: 'r', criteria: [] },
        /Input validation error/,
      ],
      [
        mcp,
        'ticket_create',
        { project: 'nope', title: 't', request: 'r', criteria },
        /^[a-z_]*not_found: .*nope/,
      ],
      [
        mcp,
        'ticket_create',
        { project: 'calc', title: 't', request: 'r', criteria, model: 'no-provider' },
        /^invalid_input: .*model/,
      ],
      [mcp, 'ticket_events', { ticketId, after: -1 }, /Input validation error: .*after/s],
      [mcp, 'ticket_get', { ticketId: 'not-a-ticket' }, /^invalid_input: .*not a ticket id/],
      [mcp, 'ticket_evidence', { ticketId, attempt: 9 }, /^[a-z_]*not_found: /],
      [bobMcp, 'ticket_get', { ticketId }, new RegExp(`^[a-z_]*not_found: .*${ticketId}`)],
      [bobMcp, 'ticket_events', { ticketId }, /^[a-z_]*not_found: /],
      [bobMcp, 'ticket_evidence', { ticketId }, /^[a-z_]*not_found: /],
    ];
    const before = (await e2e.alice.tickets.list()).length;
    for (const [client, name, args, expected] of cases) {
      const result = await client.call(name, args);
      assert.equal(result.isError, true, `${name} ${JSON.stringify(args)}: ${resultText(result)}`);
      assert.match(resultText(result), expected, `${name} ${JSON.stringify(args)}`);
    }
    assert.equal((await e2e.alice.tickets.list()).length, before, 'no ticket was made');
    assert.deepEqual((await bobMcp.ok('ticket_list', {})).value.tickets, []);
  });
});
