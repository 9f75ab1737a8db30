import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CreateTriggerBody, Trigger, TriggerFiring } from '../../api/triggers.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { apiClient } from '../client/api-client.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { printJson, printTable } from '../output.ts';
import { parsePositiveNumber } from '../parse-options.ts';
import { terminalSafe } from '../ticket-render.ts';

/** `mags trigger …`: background agents that create tickets on schedules, webhooks and events. */
export function registerTriggerCommands(program: Command): void {
  const trigger = program
    .command('trigger')
    .description('Background agents: tickets created on a schedule, a signed webhook or an event.');

  trigger
    .command('add')
    .description('Add a trigger: a ticket template fired by one of --schedule, --webhook, --on.')
    .argument('<name>')
    .requiredOption('-p, --project <name>', 'the project its tickets belong to')
    .requiredOption(
      '--template <file>',
      'a ticket.md; {{payload.…}} etc. in its title and body only',
    )
    .option(
      '--schedule <cron>',
      'five fields ("0 3 * * *"), six with seconds first, or @hourly, @daily, ...',
    )
    .option('--timezone <zone>', "the schedule's IANA time zone (default UTC)")
    .option(
      '--catch-up [policy]',
      'times missed while no server ran: skip (default: recorded as missed) or once (fire once at start); alone: once',
    )
    .option('--webhook', 'fire on signed POSTs to /v1/hooks/<id>')
    .option('--on <event>', 'job.failed[:WORKSPACE] or ticket.approved[:PROJECT]')
    .option('--creates <what>', 'ticket (default) or plan')
    .option('--daily-budget <usd>', 'what its firings may cost per day (UTC)')
    .option('--max-per-day <n>', 'firings that create work per day (UTC)')
    .option('--max-concurrent <n>', 'its tickets queued or running at once (default 1)')
    .option('--allow-overlap', 'a schedule may fire while its previous ticket still runs')
    .option(
      '--auto-approve-when-criteria-met',
      'approve its tickets when every criterion is verified met',
    )
    .option('--auto-approve', 'the same as --auto-approve-when-criteria-met (as plans say it)')
    .option(
      '--dedupe-key <template>',
      'e.g. {{payload.issue.number}}: a repeat is merged into the open ticket',
    )
    .option('--json', 'print JSON')
    .action(async (name: string, flags, command: Command) => {
      const kinds = [flags.schedule, flags.webhook, flags.on].filter(Boolean).length;
      if (kinds !== 1) {
        throw new CommandUsageError(
          'A trigger needs exactly one of --schedule, --webhook or --on.',
          {
            hint: 'mags trigger add NAME -p PROJECT --template ticket.md --schedule "0 3 * * *"',
          },
        );
      }
      let template: string;
      try {
        template = await readFile(flags.template, 'utf8');
      } catch (error) {
        throw new InvalidInputError(
          `Cannot read the template ${flags.template}: ${(error as Error).message}.`,
          {
            hint: 'Give the path of a ticket.md (YAML front matter between --- lines, then the request).',
          },
        );
      }
      const catchUp = flags.catchUp === true ? 'once' : (flags.catchUp ?? 'skip');
      if (catchUp !== 'skip' && catchUp !== 'once') {
        throw new CommandUsageError(`Invalid --catch-up ${JSON.stringify(catchUp)}.`, {
          hint: 'Use --catch-up skip or --catch-up once (alone: once).',
        });
      }
      if (flags.creates && !['ticket', 'plan'].includes(flags.creates)) {
        throw new CommandUsageError(`--creates ${flags.creates}: ticket or plan.`);
      }
      const body: CreateTriggerBody = {
        name,
        project: flags.project,
        template,
        ...(flags.creates && { creates: flags.creates }),
        ...(flags.schedule && {
          schedule: {
            cron: flags.schedule,
            ...(flags.timezone && { timezone: flags.timezone }),
            catchUp,
          },
        }),
        ...(flags.webhook && { webhook: true as const }),
        ...(flags.on && { event: parseEvent(flags.on) }),
        ...(flags.dailyBudget && {
          dailyBudgetUsd: parsePositiveNumber('--daily-budget', flags.dailyBudget),
        }),
        ...(flags.maxPerDay && {
          maxFiringsPerDay: parsePositiveNumber('--max-per-day', flags.maxPerDay, {
            integer: true,
          }),
        }),
        ...(flags.maxConcurrent && {
          maxConcurrent: parsePositiveNumber('--max-concurrent', flags.maxConcurrent, {
            integer: true,
          }),
        }),
        ...(flags.allowOverlap && { allowOverlap: true }),
        ...((flags.autoApproveWhenCriteriaMet || flags.autoApprove) && { autoApprove: true }),
        ...(flags.dedupeKey && { dedupeKey: flags.dedupeKey }),
      };
      const mags = await apiClient(command);
      const created = await mags.triggers.create(body);
      if (flags.json) return printJson(created);
      process.stdout.write(renderTrigger(created.trigger));
      if (created.secret) printSecret(created.secret, `${mags.url}${created.trigger.hookPath}`);
    });

  trigger
    .command('rotate-secret')
    .description(
      'Give a webhook trigger a new secret (shown once); the old one stops, the URL stays.',
    )
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (ref: string, flags, command: Command) => {
      const mags = await apiClient(command);
      const rotated = await mags.triggers.rotateSecret(ref);
      if (flags.json) return printJson(rotated);
      printSecret(rotated.secret as string, `${mags.url}${rotated.trigger.hookPath}`);
    });

  trigger
    .command('list')
    .description('List triggers.')
    .option('--json', 'print JSON')
    .action(async (flags, command: Command) => {
      const triggers = await (await apiClient(command)).triggers.list();
      if (flags.json) return printJson(triggers);
      printTable(
        ['NAME', 'ID', 'PROJECT', 'ON', 'STATE', 'LAST FIRED', 'NEXT'],
        triggers.map((each) => [
          each.name,
          each.id,
          each.project,
          firesOn(each),
          each.paused ? 'paused' : 'active',
          each.lastFiredAt ?? '-',
          each.nextFireAt ?? '-',
        ]),
      );
    });

  const simple = (
    name: string,
    description: string,
    act: (mags: Awaited<ReturnType<typeof apiClient>>, ref: string) => Promise<Trigger>,
  ) =>
    trigger
      .command(name)
      .description(description)
      .argument('<name>')
      .option('--json', 'print JSON')
      .action(async (ref: string, flags, command: Command) => {
        const result = await act(await apiClient(command), ref);
        if (flags.json) return printJson(result);
        process.stdout.write(renderTrigger(result));
      });
  simple('show', 'Show a trigger.', (mags, ref) => mags.triggers.get(ref));
  simple(
    'pause',
    'Pause it (a schedule stops; webhook and event firings are skipped; mags trigger fire still fires it).',
    (mags, ref) => mags.triggers.pause(ref),
  );
  simple('resume', 'Resume it (a schedule goes on from now).', (mags, ref) =>
    mags.triggers.resume(ref),
  );

  trigger
    .command('history')
    .description('Its firings, newest first: what each did and why.')
    .argument('<name>')
    .option('--limit <n>', 'at most this many (default 20, as cron history)')
    .option('--json', 'print JSON')
    .action(async (ref: string, flags, command: Command) => {
      const limit = flags.limit
        ? parsePositiveNumber('--limit', flags.limit, { integer: true })
        : 20;
      const firings = await (await apiClient(command)).triggers.firings(ref, { limit });
      if (flags.json) return printJson(firings);
      printTable(['AT', 'SOURCE', 'STATUS', 'WORK', 'REASON'], firings.map(firingRow));
    });

  trigger
    .command('remove')
    .description('Remove it and its history (the tickets it created stay).')
    .argument('<name>')
    .action(async (ref: string, _flags, command: Command) => {
      const mags = await apiClient(command);
      const removed = await mags.triggers.get(ref);
      await mags.triggers.remove(removed.id);
      process.stderr.write(
        `mags: trigger ${removed.name} (${removed.id}) removed, with its history; the tickets and plans it created stay\n`,
      );
    });

  trigger
    .command('fire')
    .description(
      'Fire it now, through its limits; also while paused (a test-fire, as mags cron run).',
    )
    .argument('<name>')
    .option('--payload <file>', 'a JSON file the template sees as {{payload.…}}')
    .option('--json', 'print JSON')
    .action(async (ref: string, flags, command: Command) => {
      let payload: unknown;
      if (flags.payload) {
        try {
          payload = JSON.parse(await readFile(flags.payload, 'utf8'));
        } catch (error) {
          throw new InvalidInputError(
            `Cannot read the payload ${flags.payload}: ${(error as Error).message}.`,
            { hint: 'Give a file holding JSON.' },
          );
        }
      }
      const firing = await (await apiClient(command)).triggers.fire(ref, payload);
      if (flags.json) return printJson(firing);
      process.stdout.write(
        `${firing.status}${firing.ticket ? ` ${firing.ticket}` : ''}${firing.plan ? ` ${firing.plan}` : ''}${firing.reason ? `: ${firing.reason}` : ''}\n`,
      );
      if (firing.status === 'skipped' || firing.status === 'failed') process.exitCode = 1;
    });
}

function parseEvent(value: string): NonNullable<CreateTriggerBody['event']> {
  const [type, scope] = value.split(/:(.*)/s, 2);
  if (type === 'job.failed') return { type, ...(scope && { workspace: scope }) };
  if (type === 'ticket.approved') return { type, ...(scope && { project: scope }) };
  throw new CommandUsageError(`--on ${value}: not an event.`, {
    hint: 'job.failed[:WORKSPACE] or ticket.approved[:PROJECT].',
  });
}

function firesOn(trigger: Trigger): string {
  if (trigger.schedule) return `schedule ${trigger.schedule.cron} (${trigger.schedule.timezone})`;
  if (trigger.event) {
    const scope =
      trigger.event.type === 'job.failed' ? trigger.event.workspace : trigger.event.project;
    return `${trigger.event.type}${scope ? `:${scope}` : ''}`;
  }
  return `webhook ${trigger.hookPath}`;
}

function renderTrigger(trigger: Trigger): string {
  const limits = [
    `max ${trigger.maxConcurrent} at once`,
    trigger.dailyBudgetUsd !== null && `$${trigger.dailyBudgetUsd} a day`,
    trigger.maxFiringsPerDay !== null && `${trigger.maxFiringsPerDay} a day`,
    trigger.allowOverlap && 'overlap allowed',
    trigger.autoApprove && 'auto-approves verified work',
    trigger.dedupeKey && `dedupe ${trigger.dedupeKey}`,
  ].filter(Boolean);
  return [
    `${trigger.name} (${trigger.id})${trigger.paused ? ' paused' : ''}`,
    `  project:  ${trigger.project}, creates a ${trigger.creates}`,
    `  fires on: ${firesOn(trigger)}`,
    `  limits:   ${limits.join(', ')}`,
    `  last:     ${trigger.lastFiredAt ?? '-'}   next: ${trigger.nextFireAt ?? '-'}`,
    '',
  ].join('\n');
}

function firingRow(firing: TriggerFiring): string[] {
  return [
    firing.at,
    firing.source,
    firing.repeats > 1 ? `${firing.status} ×${firing.repeats}` : firing.status,
    firing.ticket ?? firing.plan ?? '-',
    // A reason can quote a payload (a template's error): never raw to the terminal.
    terminalSafe(firing.reason ?? ''),
  ];
}

/**
 * The secret, once, and how to sign with it. The example reads it from a file only the sender
 * can read, so it is not typed into a command line (shell history, `ps`).
 */
function printSecret(secret: string, url: string): void {
  process.stdout.write(
    [
      '',
      `secret: ${secret}`,
      '  (shown this once: keep it where the sender signs its deliveries, e.g. a file only it reads:',
      '   umask 077; cat > hook.secret   # paste it, then Ctrl-D)',
      'sign and send a delivery:',
      '  body=\'{"issue":{"title":"..."}}\'; ts=$(date +%s)',
      `  sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$(cat hook.secret)" | sed 's/^.* //')`,
      `  curl -X POST ${url} -H 'content-type: application/json' \\`,
      `    -H "X-Mags-Signature: sha256=$sig" -H "X-Mags-Timestamp: $ts" \\`,
      '    -H "X-Mags-Delivery: $(uuidgen)" --data "$body"',
      '',
    ].join('\n'),
  );
}
