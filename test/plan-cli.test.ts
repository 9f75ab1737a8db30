/**
 * The plan CLI end to end, as a user runs it: a real server on the namespace runtime with the
 * real ticket parts, PlanGit and model planner, whose models are scripted (the planner's answers,
 * each ticket's agent). `plan create` shows the planner's refused try and the draft; `show`,
 * `show --yaml`, `edit` by quick edits, in $EDITOR and from --file; `approve` runs it (tickets
 * approved by the platform with --auto-approve); `watch` without a terminal prints a line per
 * change and exits 0 once it awaits review; `ticket watch` follows one of its tickets; `evidence`
 * shows the integration; `approve` makes the branch and `apply` fetches it into a fresh clone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LanguageModel } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { parsePlanFile, renderPlanFile } from '../src/api/plan-file.ts';
import type { Plan } from '../src/api/plans.ts';
import { createModelPlanner } from '../src/plans/planner/model-planner.ts';
import {
  call,
  type EndToEndServer,
  finish,
  fixedSum,
  git,
  startEndToEndServer,
  sumCheck,
} from './helpers/end-to-end-tickets.ts';
import { runCli, sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping plan CLI tests: ${skip}\n`);

/** The planner's answers in order: each call gets the next text. */
function plannerModel(answers: unknown[]): LanguageModel {
  let index = 0;
  return new MockLanguageModelV4({
    provider: 'openai',
    modelId: 'planner',
    doGenerate: async () => {
      const answer = answers[index++];
      if (answer === undefined) throw new Error(`the planner's script has no answer ${index - 1}`);
      return {
        content: [{ type: 'text', text: JSON.stringify(answer) }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: {
          inputTokens: {
            total: 100,
            noCache: undefined,
            cacheRead: undefined,
            cacheWrite: undefined,
          },
          outputTokens: { total: 50, text: undefined, reasoning: undefined },
        },
        warnings: [],
      };
    },
  });
}

const plannerTicket = (key: string, dependsOn: string[], check: string) => ({
  key,
  title: `Ticket ${key}`,
  request: `Do ${key}.`,
  criteria: [{ text: `${key} done`, check }],
  role: null,
  dependsOn,
});
const notesCheck = `test -f NOTES.md && ${sumCheck}`;
const goodPlan = {
  summary: 'Fix sum, then write the notes.',
  tickets: [
    plannerTicket('fix', [], sumCheck),
    plannerTicket('notes', ['fix'], notesCheck),
    plannerTicket('extra', ['fix'], 'true'),
  ],
};
const cyclicPlan = {
  ...goodPlan,
  tickets: [plannerTicket('fix', ['notes'], 'true'), plannerTicket('notes', ['fix'], 'true')],
};

describe('plan CLI end to end (real parts, scripted models)', { skip }, () => {
  let e2e: EndToEndServer;
  let env: Record<string, string>;
  let home: string;
  const planners = new Map<string, LanguageModel>();

  before(async () => {
    e2e = await startEndToEndServer({
      planner: createModelPlanner({
        resolveLanguageModel: (id) => {
          const model = planners.get(id);
          if (!model) throw new Error(`no scripted planner ${id}`);
          return model;
        },
      }),
    });
    env = { MAGS_URL: e2e.server.url, MAGS_API_TOKEN: e2e.aliceToken };
    home = e2e.server.testHome.home;
  });
  after(() => e2e?.close());

  const cli = (args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) =>
    runCli(home, args, { ...options, env: { ...env, ...options.env } });

  test('create with a planner, edit, approve, watch, evidence, approve, apply', async () => {
    planners.set('openai:planner-1', plannerModel([cyclicPlan, goodPlan]));
    const created = await cli([
      'plan',
      'create',
      '-p',
      'calc',
      'Fix sum and write notes',
      '--model',
      'openai:planner-1',
      '--auto-approve',
      '--max-cost',
      '5',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const out = created.stdout.toString();
    const id = out.split('\n')[0] ?? '';
    assert.match(id, /^pln_[\w-]+$/);
    assert.match(created.stderr, /^mags: planning… try 1: .*cycle.*$/m);
    assert.match(created.stderr, /^mags: planning… try 2: accepted$/m);
    assert.match(
      created.stderr,
      new RegExp(`plan ${id} is draft; approve it: mags plan approve ${id}`),
    );
    assert.match(out, /^status: +draft/m);
    assert.match(out, /^budget: +\$5$/m);
    assert.match(out, /^approve: +each ticket whose criteria are met, by itself$/m);
    assert.match(out, /^fix +· pending +- +- +- +Ticket fix$/m);
    assert.match(out, /^ {2}notes +· pending +- +fix +- +Ticket notes$/m);

    // From --file: what show --yaml printed, with a scripted model for each ticket.
    const yaml = await cli(['plan', 'show', id, '--yaml']);
    assert.equal(yaml.code, 0, yaml.stderr);
    const spec = parsePlanFile(yaml.stdout.toString());
    const fixer = e2e.model([
      call('edit_file', { path: 'sum.js', oldText: 'a - b', newText: 'a + b' }),
      finish('sum adds', true),
    ]);
    const writer = e2e.model([
      call('write_file', { path: 'NOTES.md', content: 'sum adds now\n' }),
      call('finish', {
        summary: 'notes written',
        claims: [
          { criterion: 1, met: true },
          { criterion: 2, met: true },
        ],
      }),
    ]);
    // Each edit is checked as an approval would be, models included: they come first.
    const [fixTicket, notesTicket, extraTicket] = spec.tickets;
    assert.ok(fixTicket && notesTicket && extraTicket);
    fixTicket.model = fixer.id;
    notesTicket.model = writer.id;
    extraTicket.model = writer.id;
    const file = join(home, 'plan.yaml');
    await writeFile(file, renderPlanFile(spec));
    const fromFile = await cli(['plan', 'edit', id, '--file', file]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    let plan = await e2e.alice.plans.get(id);
    assert.equal(plan.tickets[0]?.model, fixer.id);

    // Quick edits: a ticket out, a criterion in.
    const quick = await cli([
      'plan',
      'edit',
      id,
      '--remove',
      'extra',
      '--criterion',
      'notes',
      'the notes name sum',
      '--check',
      'grep -q sum NOTES.md',
    ]);
    assert.equal(quick.code, 0, quick.stderr);
    plan = await e2e.alice.plans.get(id);
    assert.deepEqual(
      plan.tickets.map((ticket) => ticket.key),
      ['fix', 'notes'],
    );
    assert.deepEqual(plan.tickets[1]?.criteria.at(-1), {
      text: 'the notes name sum',
      check: 'grep -q sum NOTES.md',
    });
    const refused = await cli(['plan', 'edit', id, '--remove', 'fix']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /fix cannot be removed: notes depend on it/);

    // In $EDITOR, as git commit does: the YAML of the plan, saved changed.
    const edited = await cli(['plan', 'edit', id], {
      env: { VISUAL: '', EDITOR: "sed -i 's/title: Ticket notes/title: Release notes/'" },
    });
    assert.equal(edited.code, 0, edited.stderr);
    plan = await e2e.alice.plans.get(id);
    assert.equal(plan.tickets[1]?.title, 'Release notes');

    const approved = await cli(['plan', 'approve', id]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(
      approved.stderr,
      new RegExp(`plan ${id} is running; follow it: mags plan watch ${id}`),
    );

    // Not a terminal: one line per change, to the end; exit 0 once it awaits review.
    const watched = await cli(['plan', 'watch', id]);
    assert.equal(watched.code, 0, watched.stderr);
    const lines = watched.stdout.toString();
    assert.match(
      lines,
      /^plan planning\nplanning… try 1: .*cycle.*\nplanning… try 2: accepted\nplan draft: written by openai:planner-1$/m,
    );
    assert.match(lines, /^plan running: approved by alice$/m);
    assert.match(lines, /^fix: dispatched as tkt_[\w-]+$/m);
    assert.match(lines, /^fix: ticket running: attempt 1$/m);
    assert.match(lines, /^fix: check 1: met$/m);
    assert.match(lines, /^notes: merged 1 result$/m);
    assert.match(lines, /^notes: dispatched as tkt_[\w-]+$/m);
    assert.match(lines, /^notes: \$ node --test \(exit 0\)$/m);
    assert.match(lines, /^plan awaiting_review/m);
    assert.match(
      lines,
      new RegExp(`^${id} is awaiting_review.*; 2/2 tickets approved, \\$\\d`, 'm'),
    );
    // A line per change comes in the order it happened: fix approved before notes starts.
    assert.ok(lines.indexOf('fix: ticket approved') < lines.indexOf('notes: dispatched'), lines);

    // `mags ticket watch` follows one ticket of the plan as any other.
    plan = await e2e.alice.plans.get(id);
    const notesId = plan.tickets[1]?.ticket ?? '';
    const ticketWatch = await cli(['ticket', 'watch', notesId]);
    assert.equal(ticketWatch.code, 0, ticketWatch.stderr);
    assert.match(ticketWatch.stdout.toString(), /✎ created NOTES\.md/);

    const evidence = await cli(['plan', 'evidence', id]);
    assert.equal(evidence.code, 0, evidence.stderr);
    const text = evidence.stdout.toString();
    assert.match(text, /^Merge order: fix → notes$/m);
    assert.match(text, /^ {2}sum\.js {2}\+1 -1$/m);
    assert.match(text, /^ {2}NOTES\.md {2}\+1 -0$/m);
    assert.match(text, /^ {4}✔ 2\. the notes name sum — met/m);
    assert.match(text, /^Tests on the merged result: node --test → tests pass/m);

    const final = await cli(['plan', 'approve', id]);
    assert.equal(final.code, 0, final.stderr);
    assert.match(final.stderr, new RegExp(`plan ${id} is approved; fetch branch mags/plan-${id}`));
    const fresh = join(home, `fresh-${id}`);
    execFileSync('git', ['clone', '-q', e2e.checkout, fresh]);
    const applied = await cli(['plan', 'apply', id], { cwd: fresh });
    assert.equal(applied.code, 0, applied.stderr);
    const branch = `mags/plan-${id}`;
    assert.match(applied.stderr, new RegExp(`branch ${branch} is at [0-9a-f]{12}`));
    assert.equal(git(fresh, 'show', `${branch}:sum.js`), fixedSum);
    assert.equal(git(fresh, 'show', `${branch}:NOTES.md`), 'sum adds now\n');
    assert.equal(git(fresh, 'status', '--porcelain'), '', 'the working tree is untouched');
    assert.equal((await readFile(join(fresh, 'sum.js'), 'utf8')) === fixedSum, false);
  });

  test('create from --file is a draft at once; list shows it; a bad file names the field and line', async () => {
    const file = join(home, 'hand.yaml');
    await writeFile(
      file,
      renderPlanFile({
        summary: 'By hand',
        tickets: [
          {
            key: 'only',
            title: 'Only',
            request: 'Do it.',
            criteria: [{ text: 'done', check: 'true' }],
            model: e2e.model([]).id,
            dependsOn: [],
          },
        ],
      }),
    );
    const created = await cli(['plan', 'create', '-p', 'calc', '--file', file, '--json']);
    assert.equal(created.code, 0, created.stderr);
    const plan = JSON.parse(created.stdout.toString()) as Plan;
    assert.equal(plan.status, 'draft');
    assert.equal(plan.request, 'By hand', 'the summary is the request when none is given');
    const listed = await cli(['plan', 'list', '-p', 'calc', '--status', 'draft']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout.toString(),
      new RegExp(`^${plan.id} +calc +draft +0/1 +\\$0\\.0000 +By hand$`, 'm'),
    );
    const shown = await cli(['plan', 'show', plan.id, '--json']);
    assert.equal((JSON.parse(shown.stdout.toString()) as Plan).id, plan.id);
    const closed = await cli(['plan', 'close', plan.id]);
    assert.equal(closed.code, 0, closed.stderr);
    assert.match(closed.stderr, new RegExp(`plan ${plan.id} is closed`));

    await writeFile(file, 'summary: x\ntickets:\n  - key: Bad Key\n    title: t\n');
    const bad = await cli(['plan', 'create', '-p', 'calc', '--file', file]);
    assert.equal(bad.code, 1, bad.stderr);
    // Every problem of the file, listed: the bad key and the missing fields.
    assert.match(
      bad.stderr,
      /hand\.yaml has \d+ problems:\n[\s\S]*line 3: tickets\[0\]\.key: a ticket key is/,
    );
    assert.match(bad.stderr, /line 3: tickets\[0\]\.request: /);
  });
});
