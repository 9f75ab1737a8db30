/**
 * Issue 12: what the platform adds to a ticket, with a scripted model that answers at once (so
 * only mags is measured), through a server in this process, beside floors measured in the same
 * run: (a) `ticket run` (API) → the agent's first command running in its sandbox, fork included,
 * beside `mags run true`, a sandbox exec and a workspace fork through the API; (b) per-step
 * overhead: a run_command `true` round trip of the loop minus the same `true` exec'd directly on
 * the ticket's sandbox; (c) a tool result's latency to an SSE client; (d) 10 tickets at once vs
 * one after another.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEvaluationServer } from '../eval/evaluation-server.ts';
import { createFixtureRepository } from '../eval/fixture-repository.ts';
import { runtimeAgentSandbox } from '../src/agents/runtime-agent-sandbox.ts';
import { sandboxSkipReason } from '../test/helpers/test-home.ts';
import { measure, printRows, printTable, summarize } from './stats.ts';
import { benchModel, runBenchTicket, TicketTimings, timedAgent } from './tickets-timing.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 30);
/** Tickets one after another (the samples of (a)), then as many at once. */
const ticketCount = 10;
/** `true` steps per ticket: the samples of the per-step overhead. */
const stepsPerTicket = 10;
const owner = 'bench';

export async function ticketsBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## tickets: skipped (${skip})\n`);
    return;
  }
  const timings = new TicketTimings();
  const server = await startEvaluationServer({
    scripted: { bench: benchModel(timings, stepsPerTicket) },
    wrapAgent: (agent) => timedAgent(agent, timings),
    tickets: { maxRunning: ticketCount, maxRunningPerOwner: ticketCount },
    // Every ticket keeps its sandbox: 2 × 10 tickets and the floor's.
    perOwner: { sandboxes: 4 * ticketCount, runningJobs: 4 * ticketCount },
  });
  const workDirectory = await mkdtemp(join(tmpdir(), 'mags-bench-tickets-'));
  try {
    const mags = await server.client(owner);
    const repository = await createFixtureRepository(
      'bench',
      [{ path: 'README.md', content: Buffer.from('# bench\n') }],
      workDirectory,
    );
    const project = await mags.projects.create({ name: 'bench', repo: repository.path });
    if (project.status !== 'ready')
      throw new Error(`the bench project is ${project.status}: ${project.reason}`);

    // Floors, same run: what a run, an exec and a fork cost through the API.
    const run = await measure("API: runAndWait('true')", iterations, async () => {
      const result = await mags.runAndWait('true');
      if (result.exitCode !== 0) throw new Error(`true failed: ${result.stderr}`);
    });
    await mags.sandboxes.create({ name: 'floor', workspace: 'floor' });
    const exec = await measure("API: sandbox execAndWait('true')", iterations, async () => {
      const result = await mags.sandboxes.execAndWait('floor', 'true');
      if (result.exitCode !== 0) throw new Error(`true failed: ${result.stderr}`);
    });
    await mags.sandboxes.stop('floor');
    let forks = 0;
    const fork = await measure('API: workspace fork', iterations, async () => {
      await mags.workspaces.fork('floor', `floor-fork-${forks++}`);
    });

    // (a), (b), (c): tickets one after another, each timed from `run` to its first command.
    const firstCommand: number[] = [];
    const sequentialStartedMs = performance.now();
    for (let index = 0; index < ticketCount; index++) {
      const { firstCommandMs } = await runBenchTicket(mags, timings, `sequential ${index}`);
      firstCommand.push(firstCommandMs);
    }
    const sequentialMs = performance.now() - sequentialStartedMs;

    // The same `true`, exec'd directly on a ticket's sandbox (no loop, no events, no API).
    const last = (await mags.tickets.list({ project: 'bench' })).at(0);
    if (!last) throw new Error('no ticket');
    // Its attempt's end stopped it: started again, as approving or the next attempt would.
    await server.server.services.sandboxes.start(owner, last.id);
    const use = await server.server.services.sandboxes.use(owner, last.id);
    let direct: ReturnType<typeof summarize>;
    try {
      const sandbox = runtimeAgentSandbox(use.sandbox);
      direct = await measure(
        'direct exec of true on the ticket sandbox',
        stepsPerTicket * ticketCount,
        async () => {
          await sandbox.exec('true', { timeoutMs: 10_000 });
        },
      );
    } finally {
      use.release();
    }

    printTable('tickets: time to the first command (scripted model, same run)', [
      { summary: run },
      { summary: exec, floor: run },
      { summary: fork, floor: run },
      {
        summary: summarize('ticket run → first agent command in its sandbox', firstCommand),
        floor: run,
        target: '≤ 150 ms',
      },
    ]);
    const roundTrip = summarize(
      'loop step: run_command true round trip',
      timings.stepRoundTripsMs(),
    );
    printTable('tickets: per-step platform overhead', [
      { summary: direct },
      { summary: roundTrip, floor: direct },
    ]);
    const latency = summarize('tool_result emitted → SSE client', timings.eventLatenciesMs());
    printRows(
      'tickets: overhead and event latency',
      ['measure', 'median ms', 'p95 ms', 'target'],
      [
        [
          'step overhead (round trip − direct exec, medians)',
          (roundTrip.medianMs - direct.medianMs).toFixed(1),
          (roundTrip.p95Ms - direct.p95Ms).toFixed(1),
          '≤ 10 ms',
        ],
        [
          `${latency.name} (n=${latency.samples})`,
          latency.medianMs.toFixed(1),
          latency.p95Ms.toFixed(1),
          '',
        ],
      ],
    );

    // (d): the same tickets, all at once.
    const parallelStartedMs = performance.now();
    const parallel = await Promise.all(
      Array.from({ length: ticketCount }, (_, index) =>
        runBenchTicket(mags, timings, `parallel ${index}`),
      ),
    );
    const parallelMs = performance.now() - parallelStartedMs;
    const sequentialPerTicket = sequentialMs / ticketCount;
    const firstSequential = summarize('one after another', firstCommand);
    const firstParallel = summarize(
      'all at once',
      parallel.map((ticket) => ticket.firstCommandMs),
    );
    printRows(
      `tickets: ${ticketCount} at once vs one after another (${stepsPerTicket + 2} steps each)`,
      [
        'run',
        'tickets',
        'wall s',
        'per ticket ms',
        'tickets/s',
        'speed-up',
        'first command median / p95 ms',
      ],
      [
        [
          'one after another',
          String(ticketCount),
          (sequentialMs / 1000).toFixed(2),
          sequentialPerTicket.toFixed(0),
          (ticketCount / (sequentialMs / 1000)).toFixed(1),
          '1×',
          `${firstSequential.medianMs.toFixed(0)} / ${firstSequential.p95Ms.toFixed(0)}`,
        ],
        [
          'all at once',
          String(ticketCount),
          (parallelMs / 1000).toFixed(2),
          (parallelMs / ticketCount).toFixed(0),
          (ticketCount / (parallelMs / 1000)).toFixed(1),
          `${(sequentialMs / parallelMs).toFixed(2)}×`,
          `${firstParallel.medianMs.toFixed(0)} / ${firstParallel.p95Ms.toFixed(0)}`,
        ],
      ],
    );
  } finally {
    await server.close();
    await rm(workDirectory, { recursive: true, force: true });
  }
}
