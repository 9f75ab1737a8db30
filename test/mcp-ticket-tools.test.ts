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
import { ticketEventsCap } from '../src/mcp/ticket-events-json.ts';
import { followTicketForModel } from '../src/mcp/ticket-follow.ts';
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
  note: string;
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
    // One progress notification per event, each the event's line (and, on a slow machine,
    // "still waiting" heartbeats between them); progress is the seconds waited, increasing.
    assert.deepEqual(
      progress.map((update) => update.message).filter((message) => message?.startsWith('#')),
      value.events.map((event) => event.line),
    );
    for (const [index, update] of progress.entries()) {
      if (index > 0) assert.ok(update.progress > (progress[index - 1]?.progress ?? 0));
    }
    assert.equal(value.nextAfter, value.events.at(-1)?.id);
    const text = followed.content[0]?.text ?? '';
    assert.match(text, /status \(new\) → draft/);
    assert.match(text, /model text: sum subtracts; fixing it\./, 'text deltas are joined');
    assert.match(text, /tool call edit_file/);
    assert.match(text, /check command `node -e .*`: exit 0/);
    assert.match(text, /status running → awaiting_review/);
    assert.match(text, /is awaiting_review .* Review it with ticket_evidence\.$/);
    assert.ok(text.endsWith(value.note), 'the structured value carries the closing note');

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
    // Clients that give the model only the structured value (Claude Code, Codex) lose nothing.
    assert.equal(evidence.value.summary, evidence.text);
    assert.match(String(evidence.value.summary), /Agent's summary: sum adds now/);

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
    const readEvents = async (uri: string) =>
      JSON.parse(((await mcp.client.readResource({ uri })).contents[0] as { text: string }).text);
    const page = await readEvents(`mags://tickets/${ticketId}/events`);
    const { events } = page;
    assert.equal(events[0].data.type, 'status');
    assert.equal(events.at(-1).data.to, 'awaiting_review');
    assert.equal(page.more, false);
    assert.equal(page.nextAfter, events.at(-1).id);
    // ?after=N: only the events after N.
    const later = await readEvents(`mags://tickets/${ticketId}/events?after=${events[1].id}`);
    assert.deepEqual(later.events, events.slice(2));
    // Capped: pages of at most the cap, each naming the next, together every event once.
    const cap = ticketEventsCap.events;
    ticketEventsCap.events = 3;
    try {
      const ids: number[] = [];
      let uri: string | undefined = `mags://tickets/${ticketId}/events`;
      while (uri) {
        const next = await readEvents(uri);
        assert.ok(next.events.length <= 3);
        ids.push(...next.events.map((event: { id: number }) => event.id));
        assert.equal(next.more, next.next !== undefined);
        uri = next.next;
      }
      assert.deepEqual(
        ids,
        events.map((event: { id: number }) => event.id),
      );
    } finally {
      ticketEventsCap.events = cap;
    }

    const { resources } = await mcp.client.listResources();
    assert.ok(resources.some((resource) => resource.uri === `mags://tickets/${ticketId}/evidence`));
    const { resourceTemplates } = await mcp.client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((template) => template.uriTemplate).sort(), [
      'mags://jobs/{jobId}/log',
      'mags://jobs/{jobId}/log{?offset}',
      'mags://tickets/{ticketId}/events',
      'mags://tickets/{ticketId}/events{?after}',
      'mags://tickets/{ticketId}/evidence',
    ]);

    for (const [client, uri, expected] of [
      [
        mcp,
        'mags://tickets/tkt_missing/evidence',
        // The hint names a tool, not a CLI command.
        /mags:\/\/tickets\/tkt_missing\/evidence: .*tkt_missing.*\(ticket_list shows your tickets\.\)$/,
      ],
      [bobMcp, `mags://tickets/${ticketId}/evidence`, new RegExp(`${ticketId}`)],
      [bobMcp, `mags://tickets/${ticketId}/events`, new RegExp(`${ticketId}`)],
    ] as const) {
      await assert.rejects(client.client.readResource({ uri }), (error: unknown) => {
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, -32002, error.message);
        assert.match(error.message, expected);
        assert.doesNotMatch(error.message, /\bmags [a-z]/);
        return true;
      });
    }
    // Ids are checked before any request: a decoded "../x" would be resolved as URL path
    // segments of the API's route. (A bare ".." is resolved by the URL parser before matching.)
    for (const uri of [
      'mags://tickets/..%2Fjobs/events',
      'mags://tickets/.%2F..%2Fx/evidence',
      `mags://tickets/${ticketId}/events?after=x`,
    ]) {
      await assert.rejects(mcp.client.readResource({ uri }), (error: unknown) => {
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, -32602, `${uri}: ${error.message}`);
        assert.match(error.message, /not a ticket id|whole number/);
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
      assert.match(value.note, /The wait timed out while it still runs/);

      // While the ticket is quiet a follow still sends progress (heartbeats), so a client that
      // resets its timeout on progress keeps waiting.
      const beats: Array<{ progress: number; message: string }> = [];
      const quiet = await followTicketForModel(e2e.alice, {
        ticketId: created.id,
        after: value.nextAfter,
        follow: true,
        maxEvents: 200,
        timeoutMs: 1500,
        heartbeatMs: 200,
        signal: new AbortController().signal,
        onProgress: async (progress, message) => {
          beats.push({ progress, message });
        },
      });
      assert.equal(quiet.value.timedOut, true);
      assert.ok(beats.length >= 3, `${beats.length} heartbeats in 1.5 s`);
      assert.match(
        beats[0]?.message ?? '',
        new RegExp(`^still waiting for ticket ${created.id}: 0 events so far`),
      );
      for (const [index, beat] of beats.entries()) {
        if (index > 0) assert.ok(beat.progress > (beats[index - 1]?.progress ?? 0));
      }

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
      [
        mcp,
        'ticket_get',
        { ticketId: 'not-a-ticket' },
        /Input validation error: .*not a ticket id/s,
      ],
      [mcp, 'ticket_get', { ticketId: '..' }, /Input validation error: .*not a ticket id/s],
      [mcp, 'ticket_run', { ticketId: '.' }, /Input validation error: .*not a ticket id/s],
      // Strict inputs: an unknown argument is an error, not silently ignored.
      [mcp, 'ticket_get', { ticketId, verbose: true }, /Unrecognized key.*verbose/s],
      [mcp, 'ticket_events', { ticketId, limit: 5 }, /Unrecognized key.*limit/s],
      [mcp, 'ticket_evidence', { ticketId, diff: true }, /Unrecognized key.*diff/s],
      [mcp, 'ticket_list', { mine: true }, /Unrecognized key.*mine/s],
      [
        mcp,
        'ticket_create',
        { project: 'calc', title: 't', request: 'r', criteria: [{ text: 'x', cmd: 'true' }] },
        /Unrecognized key.*cmd/s,
      ],
      [mcp, 'ticket_run', { ticketId }, /^ticket_status: /],
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

  test('a draft names ticket_run with its id; ticket_run starts it with a raised budget', async () => {
    const oracle = e2e.model([finish('nothing to do', true)]);
    const body = e2e.body(oracle.id);
    const created = await mcp.ok('ticket_create', {
      project: body.project,
      title: body.title,
      request: body.request,
      criteria: body.criteria,
      model: oracle.id,
      run: false,
    });
    const draft = created.value.ticket as { id: string; status: string };
    assert.equal(draft.status, 'draft');
    const next = `It is a draft: start it with ticket_run (ticketId "${draft.id}").`;
    assert.ok(created.text.endsWith(next), created.text);
    assert.equal(created.value.next, next, 'the structured value carries the next step');
    try {
      const started = await mcp.ok('ticket_run', { ticketId: draft.id, maxSteps: 7 });
      const ticket = started.value.ticket as { status: string; budget: { maxSteps: number } };
      assert.match(ticket.status, /^(queued|running)$/);
      assert.equal(ticket.budget.maxSteps, 7);
      assert.match(started.text, new RegExp(`^Started ${draft.id} \\[(queued|running)`));
      assert.match(String(started.value.next), /ticket_events/);
    } finally {
      await e2e.alice.tickets.stop(draft.id).catch(() => undefined);
    }
  });
});
