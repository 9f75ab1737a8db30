/**
 * Issue 13: a whole plan run with scripted models (`npm run bench plans`): 20 tickets of width 8
 * (8 independent, 8 each on a pair of those, 4 each on a pair of the second row), auto-approved
 * as their checks pass, through the real ticket layer of a server in this process and a
 * PlanManager on it with the real PlanGit. Measured: the plan's wall time against the sum of its
 * tickets' own times (the parallel speed-up, which this machine's cores bound), and the dispatch
 * latency from a dependency's approval (the last of its dependencies') to its dependent's first
 * command in its sandbox (that command prints the sandbox's clock, the host's realtime clock).
 */
import { availableParallelism } from 'node:os';
import { startEvaluationServer } from '../eval/evaluation-server.ts';
import { createFixtureRepository } from '../eval/fixture-repository.ts';
import { scriptedModel } from '../eval/scripted/scripted-model.ts';
import type { PlanTicketSpec } from '../src/api/plans.ts';
import { sandboxSkipReason } from '../test/helpers/test-home.ts';
import { printRows, summarize } from './stats.ts';

const owner = 'bench';
const width = 8;

/** The plan: row 1 independent, row 2 on pairs of row 1, row 3 on pairs of row 2. */
function benchPlan(): PlanTicketSpec[] {
  const ticket = (key: string, dependsOn: string[]): PlanTicketSpec => ({
    key,
    title: `bench ticket ${key}`,
    request: 'Run the command, then finish.',
    criteria: [{ text: 'its file is there', check: `test -f out-${key}.txt` }],
    model: 'scripted:plan',
    dependsOn,
  });
  const first = Array.from({ length: width }, (_, index) => ticket(`a${index}`, []));
  const second = Array.from({ length: width }, (_, index) =>
    ticket(`b${index}`, [`a${index}`, `a${(index + 1) % width}`]),
  );
  const third = Array.from({ length: width / 2 }, (_, index) =>
    ticket(`c${index}`, [`b${2 * index}`, `b${2 * index + 1}`]),
  );
  return [...first, ...second, ...third];
}

/** Step 0 prints the sandbox's clock and writes the ticket's file; then finish. */
const planModel = scriptedModel(({ step, ticketText }) => {
  const key = /bench ticket ([a-z0-9]+)/.exec(ticketText)?.[1] ?? 'unknown';
  if (step === 0) {
    return {
      toolCalls: [
        { tool: 'run_command', input: { command: `date +%s%N && echo ${key} > out-${key}.txt` } },
      ],
    };
  }
  return {
    toolCalls: [
      { tool: 'finish', input: { summary: 'done', claims: [{ criterion: 1, met: true }] } },
    ],
  };
});

export async function planRunBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## plans: a plan run skipped (${skip})\n`);
    return;
  }
  const server = await startEvaluationServer({
    scripted: { plan: planModel },
    tickets: { maxRunning: width, maxRunningPerOwner: width },
    perOwner: { sandboxes: 4 * width, runningJobs: 4 * width },
  });
  const { services } = server.server;
  // The server's own PlanManager (its per-owner limit, 8 by default, is the plan's width).
  const { plans } = services;
  // Host realtime clock (ms) of each ticket's queue, approval and first command.
  const queuedAtMs = new Map<string, number>();
  const approvedAtMs = new Map<string, number>();
  const firstCommandAtMs = new Map<string, number>();
  const unsubscribe = services.tickets.onEvent((ticketId, event) => {
    const now = performance.timeOrigin + performance.now();
    const { data } = event;
    if (data.type === 'status' && data.to === 'queued' && !queuedAtMs.has(ticketId)) {
      queuedAtMs.set(ticketId, now);
    } else if (data.type === 'status' && data.to === 'approved') {
      approvedAtMs.set(ticketId, now);
    } else if (data.type === 'command' && data.source === 'agent') {
      const printed = /^\d{18,}$/m.exec(data.output)?.[0];
      if (printed && !firstCommandAtMs.has(ticketId)) {
        firstCommandAtMs.set(ticketId, Number(BigInt(printed) / 1000n) / 1000);
      }
    }
  });
  try {
    const repository = await createFixtureRepository(
      'plan',
      [{ path: 'README.md', content: Buffer.from('# bench plan\n') }],
      server.home,
    );
    const project = await services.projects.create(owner, { name: 'bench', repo: repository.path });
    if (project.status !== 'ready') throw new Error(`the bench project is ${project.status}`);
    const spec = benchPlan();
    const startedMs = performance.timeOrigin + performance.now();
    const created = await plans.create(owner, {
      project: 'bench',
      request: 'bench plan',
      auto: true,
      autoApprove: true,
      maxParallel: width,
      spec: { summary: `${spec.length} tickets of width ${width}`, tickets: spec },
    });
    const ended = await plans.wait(owner, created.id);
    const endedMs = performance.timeOrigin + performance.now();
    if (ended.status !== 'awaiting_review') {
      throw new Error(`the bench plan ended ${ended.status}: ${ended.reason}`);
    }
    const byKey = new Map(ended.tickets.map((item) => [item.key, item.ticket ?? '']));
    const ticketTimesMs = [...byKey.values()].map(
      (id) => (approvedAtMs.get(id) ?? Number.NaN) - (queuedAtMs.get(id) ?? Number.NaN),
    );
    const lastApprovedMs = Math.max(...[...byKey.values()].map((id) => approvedAtMs.get(id) ?? 0));
    const sumMs = ticketTimesMs.reduce((sum, each) => sum + each, 0);
    const ticketsWallMs = lastApprovedMs - startedMs;
    const latencies = spec
      .filter((ticket) => ticket.dependsOn.length > 0)
      .map((ticket) => {
        const dependencies = ticket.dependsOn.map(
          (key) => approvedAtMs.get(byKey.get(key) ?? '') ?? Number.NaN,
        );
        const first = firstCommandAtMs.get(byKey.get(ticket.key) ?? '') ?? Number.NaN;
        return first - Math.max(...dependencies);
      });
    if ([...ticketTimesMs, ...latencies].some(Number.isNaN)) {
      throw new Error('an approval or first command of the plan was not seen');
    }
    const ticketTimes = summarize('ticket time', ticketTimesMs);
    const dispatch = summarize('dispatch', latencies);
    printRows(
      `plans: a ${spec.length}-ticket plan of width ${width}, scripted models, auto-approved (this machine has ${availableParallelism()} cores)`,
      ['measure', 'value'],
      [
        ['tickets (rows of 8, 8 on pairs, 4 on pairs)', String(spec.length)],
        ['sum of the tickets’ times (queued → approved), s', (sumMs / 1000).toFixed(2)],
        [
          'ticket time median / p95, ms',
          `${ticketTimes.medianMs.toFixed(0)} / ${ticketTimes.p95Ms.toFixed(0)}`,
        ],
        ['plan wall time to the last approval, s', (ticketsWallMs / 1000).toFixed(2)],
        ['parallel speed-up (sum / wall)', `${(sumMs / ticketsWallMs).toFixed(2)}×`],
        ['plan wall time with the integration, s', ((endedMs - startedMs) / 1000).toFixed(2)],
        [
          `dispatch: last dependency approved → dependent's first command, median / p95 ms (n=${dispatch.samples})`,
          `${dispatch.medianMs.toFixed(0)} / ${dispatch.p95Ms.toFixed(0)}`,
        ],
      ],
    );
  } finally {
    unsubscribe();
    await server.close();
  }
}
