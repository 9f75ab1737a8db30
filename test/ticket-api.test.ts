/**
 * Tickets through a real server (namespace runtime, a fixture project, a scripted agent): the
 * SDK's create/run/events/evidence/approve/bundle, the events' SSE stream resumed by
 * Last-Event-ID, another owner's ticket a 404, and the CLI's create/list/show/watch as a user
 * runs them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NotFoundError } from '../src/errors/mags-error.ts';
import type { Mags } from '../src/sdk/mags.ts';
import type { TicketAgentParts, TicketProjects } from '../src/tickets/ticket-parts.ts';
import { runCli, sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';
import {
  agentCommand,
  fixtureParts,
  fixtureProject,
  scriptedAgent,
} from './helpers/ticket-fixtures.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping ticket API tests: ${skip}\n`);

/** What each approval asked to commit (the author and message the CLI sent). */
const approvals: Array<Parameters<TicketAgentParts['commitApproved']>[1]> = [];
const parts = (): TicketAgentParts => {
  const base = fixtureParts(agent);
  return {
    ...base,
    commitApproved: (sandbox, options) => {
      approvals.push(options);
      return base.commitApproved(sandbox, options);
    },
  };
};

const agent = scriptedAgent(async (task, session) => {
  await session.emit({ type: 'text', step: 1, text: 'Fixing ' });
  await session.emit({ type: 'text', step: 1, text: 'it.\n' });
  await agentCommand(session, 'echo goodbye >> /workspace/greeting.txt && seq 1 30');
  // Output that would clear the screen and retitle the window, were it printed as it is.
  await agentCommand(session, "printf 'plain \\033[2J\\033]0;pwned\\007red\\n'");
  // A file whose diff, shown to the reviewer, would erase the line before it.
  await agentCommand(session, "printf 'hidden\\n\\033[1A\\033[2Kshown\\n' > /workspace/note.txt");
  await session.emit({
    type: 'usage',
    step: 1,
    model: task.model,
    inputTokens: 10,
    outputTokens: 5,
    costUsd: 0.001,
    total: { inputTokens: 10, outputTokens: 5, costUsd: 0.001, steps: 1 },
  });
  return { reason: 'finished', summary: 'said goodbye\x1b]0;pwned\x07' };
});

describe('tickets through a server', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let aliceToken: string;
  let bob: Mags;
  // The server's own sandboxes and workspaces hold the fixture project: set once it runs.
  let projects: TicketProjects | undefined;
  const forward: TicketProjects = {
    get: (...args) => (projects as TicketProjects).get(...args),
    forkForTicket: (...args) => (projects as TicketProjects).forkForTicket(...args),
    importBranch: (...args) => (projects as TicketProjects).importBranch(...args),
  };

  before(async () => {
    server = await startTestServer(
      {
        scheduling: { poolSize: 0 },
        tickets: {
          projects: forward,
          parts: parts(),
          settings: { defaultModel: 'scripted:oracle' },
        },
      },
      { MAGS_DISK: '64M' },
    );
    const { context, sandboxes } = server.server.services;
    projects = (await fixtureProject(context, sandboxes, 'alice', 'app')).projects;
    const client = await server.client('alice');
    alice = client.mags;
    aliceToken = client.token;
    bob = (await server.client('bob')).mags;
  });
  after(() => server?.close());

  const body = {
    project: 'app',
    title: 'Say goodbye',
    request: 'Add goodbye to the greeting.',
    criteria: [{ text: 'says goodbye', check: 'grep -q goodbye /workspace/greeting.txt' }],
  };

  test('SDK: run, follow events, evidence, approve, bundle; the SSE stream resumes by Last-Event-ID', async () => {
    const created = await alice.tickets.create({ ...body, run: true });
    assert.equal(created.status, 'queued');
    const followed = [];
    for await (const event of alice.tickets.events(created.id, { follow: true })) {
      followed.push(event);
    }
    const last = followed.at(-1)?.data;
    assert.equal(last?.type === 'status' && last.to, 'awaiting_review');
    const ticket = await alice.tickets.get(created.id);
    assert.equal(ticket.status, 'awaiting_review');
    assert.equal(ticket.reason, 'all 1 criteria met');
    assert.equal('history' in ticket, false, 'the API view has no agent history');

    // Raw SSE with Last-Event-ID: only the events after it, each with its id; then `end`.
    const response = await fetch(`${server.url}/v1/tickets/${created.id}/events`, {
      headers: { authorization: `Bearer ${aliceToken}`, 'last-event-id': '3' },
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const text = await response.text();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
    assert.deepEqual(
      ids,
      followed.slice(3).map((event) => event.id),
    );
    assert.match(text, /^event: end$/m);
    assert.deepEqual(
      (await collect(alice, created.id, followed.length - 2)).map((event) => event.id),
      followed.slice(-2).map((event) => event.id),
    );

    const evidence = await alice.tickets.evidence(created.id);
    assert.equal(evidence.criteria[0]?.status, 'met');
    assert.match(evidence.diff, /^\+goodbye$/m);
    const approved = await alice.tickets.approve(created.id);
    assert.equal(approved.status, 'approved');
    assert.equal(approved.branch, `mags/${created.id}`);
    const bundle = Buffer.from(await alice.tickets.bundle(created.id));
    assert.ok(bundle.toString('latin1').startsWith('# v2 git bundle\n'), 'a git bundle');

    // Another owner's ticket is a 404 on every route, and not in their list.
    await assert.rejects(bob.tickets.get(created.id), NotFoundError);
    await assert.rejects(bob.tickets.evidence(created.id), NotFoundError);
    await assert.rejects(bob.tickets.comment(created.id, 'mine?'), NotFoundError);
    await assert.rejects(collect(bob, created.id, 0), NotFoundError);
    assert.deepEqual(await bob.tickets.list(), []);
  });

  test('CLI: create from flags and from ticket.md, list, show, watch', async () => {
    const home = server.testHome.home;
    const env = { MAGS_URL: server.url, MAGS_API_TOKEN: aliceToken };
    const stray = await runCli(home, ['ticket', 'create', '-p', 'app', '--check', 'true'], { env });
    assert.equal(stray.code, 2, stray.stderr);
    assert.match(stray.stderr, /--check "true" comes before any --criterion/);

    const created = await runCli(
      home,
      [
        'ticket',
        'create',
        '-p',
        'app',
        '--title',
        'From flags',
        '--request',
        'Say goodbye.',
        '--criterion',
        'says goodbye',
        '--check',
        'grep -q goodbye /workspace/greeting.txt',
        '--criterion',
        'reads well',
        '--max-steps',
        '5',
      ],
      { env },
    );
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.toString().trim();
    const ticket = await alice.tickets.get(id);
    assert.deepEqual(ticket.criteria, [
      { text: 'says goodbye', check: 'grep -q goodbye /workspace/greeting.txt' },
      { text: 'reads well' },
    ]);
    assert.deepEqual(ticket.budget, { maxSteps: 5 });
    assert.equal(ticket.status, 'draft');

    const file = join(home, 'ticket.md');
    await writeFile(
      file,
      '---\nproject: app\ntitle: From a file\ncriteria:\n  - text: says goodbye\n    check: grep -q goodbye greeting.txt\n---\nSay goodbye, please.\n',
    );
    const fromFile = await runCli(home, ['ticket', 'create', '--file', file, '--run'], { env });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const fileId = fromFile.stdout.toString().trim();
    const fileTicket = await alice.tickets.get(fileId);
    assert.equal(fileTicket.request, 'Say goodbye, please.');
    assert.equal(fileTicket.title, 'From a file');

    await writeFile(file, '---\nproject: app\ntitle: [unclosed\n---\nbody\n');
    const bad = await runCli(home, ['ticket', 'create', '--file', file], { env });
    assert.equal(bad.code, 2, bad.stderr);
    // The file's own line and column, not YAML's count from the front matter's first line.
    assert.match(bad.stderr, /ticket\.md, line 3, column \d+: bad front matter: /);
    assert.doesNotMatch(bad.stderr, /at line 2/);
    const missing = await runCli(
      home,
      ['ticket', 'create', '--file', join(home, 'no-such-ticket.md')],
      { env },
    );
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(
      missing.stderr,
      /^mags: Cannot read the ticket file \S+no-such-ticket\.md: no such file\.$/m,
    );
    assert.doesNotMatch(missing.stderr, /unexpected error|at async/);

    const watch = await runCli(home, ['ticket', 'watch', fileId], { env });
    assert.equal(watch.code, 0, watch.stderr);
    const shown = watch.stdout.toString();
    assert.match(shown, /── running: attempt 1/);
    assert.match(shown, /^Fixing it\.$/m);
    assert.match(
      shown,
      /\$ echo goodbye >> \/workspace\/greeting\.txt && seq 1 30 {2}\[agent, exit 0, /,
    );
    assert.match(shown, /… 18 more lines …/);
    assert.match(shown, /\$0\.0010 · 10 in \/ 5 out tokens · 1 step$/m);
    assert.match(shown, /^✔ criterion 1: met \(exit 0\)$/m);
    assert.match(shown, new RegExp(`${fileId} is awaiting_review: all 1 criteria met`));

    const list = await runCli(home, ['ticket', 'list', '-p', 'app'], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout.toString(), new RegExp(`^${fileId} +app +awaiting_review +1 `, 'm'));
    assert.match(list.stdout.toString(), new RegExp(`^${id} +app +draft +0 `, 'm'));
    const show = await runCli(home, ['ticket', 'show', id], { env });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout.toString(), /^status: +draft$/m);
    assert.match(show.stdout.toString(), /^budget: +5 steps \(the rest: the server's defaults\)$/m);
    const noEvidence = await runCli(home, ['ticket', 'evidence', id], { env });
    assert.equal(noEvidence.code, 1, noEvidence.stderr);
    assert.match(noEvidence.stderr, new RegExp(`run it first \\(mags ticket run ${id}\\)`));
    assert.match(show.stdout.toString(), /^ {2}1\. says goodbye {2}\[check: grep -q goodbye/m);
    const evidence = await runCli(home, ['ticket', 'evidence', fileId], { env });
    assert.equal(evidence.code, 0, evidence.stderr);
    assert.match(evidence.stdout.toString(), /^ {2}✔ 1\. says goodbye$/m);
    assert.match(evidence.stdout.toString(), /^ {6}met \(exit 0\) — check: grep -q goodbye/m);
    assert.doesNotMatch(evidence.stdout.toString(), /^timeline/m);
    // The agent's summary and the diff are the agent's: their escape sequences are not printed.
    const withDiff = await runCli(home, ['ticket', 'evidence', fileId, '--diff'], { env });
    assert.equal(withDiff.code, 0, withDiff.stderr);
    const withDiffText = withDiff.stdout.toString();
    assert.ok(!withDiffText.includes('\x1b'), JSON.stringify(withDiffText));
    assert.match(withDiffText, /^\+hidden$/m);
    assert.match(withDiffText, /^\+shown$/m);
    assert.match(withDiffText, /said goodbye/);
    // Markdown written to a file (not a terminal) is the evidence as it is.
    const markdown = await runCli(home, ['ticket', 'evidence', fileId, '--markdown'], { env });
    assert.equal(markdown.code, 0, markdown.stderr);
    assert.ok(markdown.stdout.toString().includes('\x1b[2Kshown'), 'Markdown to a file is raw');

    // Escape sequences from the agent's commands are not printed; their text is.
    assert.ok(!shown.includes('\x1b'), JSON.stringify(shown));
    assert.match(shown, /^ {2}plain red$/m);

    const timeline = await runCli(home, ['ticket', 'evidence', fileId, '--timeline'], { env });
    assert.equal(timeline.code, 0, timeline.stderr);
    const timelineText = timeline.stdout.toString();
    assert.match(timelineText, /^timeline \(attempt 1\):$/m);
    assert.match(timelineText, /^ {2}\+ +\d+\.\ds {2}running: attempt 1$/m);
    assert.match(
      timelineText,
      /^ {2}\+ +\d+\.\ds {2}agent \$ echo goodbye >> \/workspace\/greeting\.txt && seq 1 30 → exit 0 in /m,
    );
    assert.match(timelineText, /^ {2}\+ +\d+\.\ds {2}criterion 1: met \(exit 0\)$/m);

    // A new budget with the run, merged into the ticket's (--max-steps 5 from its creation).
    const rerun = await runCli(home, ['ticket', 'run', id, '--max-cost', '2.5'], { env });
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.deepEqual((await alice.tickets.get(id)).budget, { maxSteps: 5, maxCostUsd: 2.5 });
    for await (const _event of alice.tickets.events(id, { follow: true })) {
      // until it is neither queued nor running
    }

    const badAuthor = await runCli(home, ['ticket', 'approve', fileId, '--author', 'nobody'], {
      env,
    });
    assert.equal(badAuthor.code, 2, badAuthor.stderr);
    assert.match(badAuthor.stderr, /--author "nobody" is not Name <email>/);
    const approve = await runCli(
      home,
      ['ticket', 'approve', fileId, '--author', 'Ada Lovelace <ada@example.com>', '-m', 'Say it'],
      { env },
    );
    assert.equal(approve.code, 0, approve.stderr);
    assert.match(approve.stdout.toString(), /^status: +approved/m);
    const approval = approvals.at(-1);
    assert.equal(approval?.authorName, 'Ada Lovelace');
    assert.equal(approval?.authorEmail, 'ada@example.com');
    assert.equal(approval?.message, 'Say it');
  });
});

test('a server does not start with a bad MAGS_TICKET_* setting or price file; it says which', async () => {
  const home = await mkdtemp(join(tmpdir(), 'mags-test-'));
  try {
    const wall = await runCli(home, ['server', '--port', '0'], {
      env: { MAGS_TICKET_MAX_WALL: 'forever' },
    });
    assert.equal(wall.code, 1, wall.stderr);
    assert.match(wall.stderr, /^mags: MAGS_TICKET_MAX_WALL="forever" is not valid\./m);
    assert.match(wall.stderr, /hint: Set it to a duration from 1s to 7d/);
    const prices = join(home, 'prices.json');
    await writeFile(prices, '{"acme:big": {"inputPerMillionUsd": "cheap"}}');
    const bad = await runCli(home, ['server', '--port', '0'], {
      env: { MAGS_MODEL_PRICES: prices },
    });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(
      bad.stderr,
      /^mags: MAGS_MODEL_PRICES: \S+prices\.json at acme:big\.inputPerMillionUsd: /m,
    );
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

async function collect(mags: Mags, id: string, after: number) {
  const events = [];
  for await (const event of mags.tickets.events(id, { after })) events.push(event);
  return events;
}
