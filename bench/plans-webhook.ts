/**
 * Issue 13 (`npm run bench plans`): a webhook's time from its request to the first command of the
 * ticket it creates, beside the same ticket created directly (`POST /v1/tickets` with `run`) in
 * the same run, through a real server over HTTP with scripted models. The first command prints
 * the sandbox's realtime clock, which is the host's, so the two ends are read on one clock.
 */
import { randomUUID } from 'node:crypto';
import { startEvaluationServer } from '../eval/evaluation-server.ts';
import { createFixtureRepository } from '../eval/fixture-repository.ts';
import { scriptedModel } from '../eval/scripted/scripted-model.ts';
import { webhookHeaders } from '../src/api/triggers.ts';
import { signWebhook } from '../src/triggers/webhook-signature.ts';
import { sandboxSkipReason } from '../test/helpers/test-home.ts';
import { printRows, summarize } from './stats.ts';

const owner = 'bench-hooks';
const rounds = 8;

/** Step 0 prints the sandbox's clock; then finish. */
const hookModel = scriptedModel(({ step }) =>
  step === 0
    ? { toolCalls: [{ tool: 'run_command', input: { command: 'date +%s%N' } }] }
    : { toolCalls: [{ tool: 'finish', input: { summary: 'done', claims: [] } }] },
);

const template = `---
title: "Issue {{payload.number}}"
model: scripted:hook
criteria:
  - text: answered
---
Look at issue {{payload.number}}.
`;

export async function planWebhookBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## plans: a webhook's ticket skipped (${skip})\n`);
    return;
  }
  const server = await startEvaluationServer({ scripted: { hook: hookModel } });
  const { services } = server.server;
  const mags = await server.client(owner);
  const firstCommandAtMs = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const unsubscribe = services.tickets.onEvent((ticketId, event) => {
    const { data } = event;
    if (data.type !== 'command' || data.source !== 'agent') return;
    const printed = /^\d{18,}$/m.exec(data.output)?.[0];
    if (!printed || firstCommandAtMs.has(ticketId)) return;
    firstCommandAtMs.set(ticketId, Number(BigInt(printed) / 1000n) / 1000);
    waiters.get(ticketId)?.();
  });
  const firstCommand = (ticketId: string) =>
    firstCommandAtMs.has(ticketId)
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.set(ticketId, resolve));
  const nowMs = () => performance.timeOrigin + performance.now();
  try {
    const repository = await createFixtureRepository(
      'hooks',
      [{ path: 'README.md', content: Buffer.from('# bench hooks\n') }],
      server.home,
    );
    const project = await services.projects.create(owner, { name: 'hooks', repo: repository.path });
    if (project.status !== 'ready') throw new Error(`the bench project is ${project.status}`);
    const { trigger, secret } = await services.triggers.add(owner, {
      name: 'issues',
      project: 'hooks',
      template,
      webhook: true,
      maxConcurrent: rounds,
    });
    if (!secret) throw new Error('a webhook trigger has a secret');
    const direct: number[] = [];
    const hooked: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      // Direct: the same ticket, created and run through the API.
      const startedMs = nowMs();
      const ticket = await mags.tickets.create({
        project: 'hooks',
        title: `Issue ${round}`,
        request: `Look at issue ${round}.`,
        criteria: [{ text: 'answered' }],
        model: 'scripted:hook',
        run: true,
      });
      await firstCommand(ticket.id);
      direct.push((firstCommandAtMs.get(ticket.id) ?? Number.NaN) - startedMs);
      await services.tickets.wait(owner, ticket.id);
      // Webhook: a signed delivery.
      const body = Buffer.from(JSON.stringify({ number: round }));
      const timestamp = String(Math.floor(Date.now() / 1000));
      const sentMs = nowMs();
      const response = await fetch(`${server.server.url}/v1/hooks/${trigger.id}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [webhookHeaders.signature]: signWebhook(secret, timestamp, body),
          [webhookHeaders.timestamp]: timestamp,
          [webhookHeaders.delivery]: randomUUID(),
        },
        body,
      });
      if (response.status !== 202) {
        throw new Error(`the delivery got ${response.status}: ${await response.text()}`);
      }
      const { firing } = (await response.json()) as { firing: { ticket: string | null } };
      if (!firing.ticket) throw new Error('the delivery created no ticket');
      await firstCommand(firing.ticket);
      hooked.push((firstCommandAtMs.get(firing.ticket) ?? Number.NaN) - sentMs);
      await services.tickets.wait(owner, firing.ticket);
    }
    const baseline = summarize('POST /v1/tickets', direct);
    const webhook = summarize('webhook', hooked);
    printRows(
      'plans: a webhook → its ticket’s first command (real server over HTTP, scripted model, same run)',
      ['path', 'n', 'median ms', 'p95 ms', 'vs POST /v1/tickets (median)'],
      [baseline, webhook].map((row) => [
        row.name,
        String(row.samples),
        row.medianMs.toFixed(1),
        row.p95Ms.toFixed(1),
        row === baseline ? 'baseline' : `${(row.medianMs / baseline.medianMs).toFixed(2)}×`,
      ]),
    );
  } finally {
    unsubscribe();
    await server.close();
  }
}
