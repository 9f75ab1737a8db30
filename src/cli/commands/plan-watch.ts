import type { Command } from 'commander';
import type { Plan } from '../../api/plans.ts';
import { apiClient } from '../client/api-client.ts';
import { withExamples } from '../help-examples.ts';
import { LiveBoard } from '../live-board.ts';
import { printJson } from '../output.ts';
import { parsePositiveNumber } from '../parse-options.ts';
import { nextStep } from '../plan-next-step.ts';
import { formatUsd, planTicketWord, planWatchExitCode, stuckOnTickets } from '../plan-render.ts';
import { applyPlanEvent, newPlanWatchState, renderPlanBoard } from '../plan-watch-state.ts';
import { terminalSafe } from '../ticket-render.ts';

/** How often the live table may be redrawn, and redrawn at least (its clock). */
const redrawIntervalMs = 100;
const clockIntervalMs = 1000;

/**
 * `mags plan watch ID`: the plan live. On a terminal, a table redrawn in place (each ticket's
 * status, cost and what it does now, the plan's status and totals above); elsewhere one line per
 * change. Ends when the plan is settled, with 0 (a draft, awaiting review, approved, closed), 1
 * (failed or blocked) or 3 (stopped).
 */
export function registerPlanWatchCommand(plan: Command): void {
  withExamples(plan.command('watch'), [
    'mags plan watch PLAN',
    'mags plan watch PLAN --json | jq .data.type',
    'mags plan watch PLAN && mags plan evidence PLAN',
  ])
    .description(
      'Follow a plan live: its tickets, their status, current step and cost. Exits 1 if it ends failed or blocked, 3 if stopped.',
    )
    .argument('<id>')
    .option('--after <event-id>', 'start after this event (default: from the first)')
    .option('--json', 'one JSON event per line')
    .action(async (id: string, flags, command: Command) => {
      const mags = await apiClient(command);
      const after = flags.after
        ? parsePositiveNumber('--after', flags.after, { integer: true })
        : 0;
      const state = newPlanWatchState(await mags.plans.get(id));
      const terminal = process.stdout.isTTY === true && !flags.json;
      const board = terminal ? new LiveBoard(process.stdout, () => redraw()) : undefined;
      const redraw = () =>
        board?.draw(
          renderPlanBoard(state, { columns: board.columns, rows: board.rows, now: Date.now() }),
        );
      let pending: NodeJS.Timeout | undefined;
      const clock = board ? setInterval(redraw, clockIntervalMs) : undefined;
      const interrupted = () => {
        board?.end();
        process.exit(130);
      };
      if (board) process.once('SIGINT', interrupted);
      if (!board && !flags.json) process.stdout.write(`${headline(state.plan)}\n`);
      redraw();
      let final: Plan;
      try {
        final = await mags.plans.wait(id, {
          after,
          onEvent: (event) => {
            if (flags.json) return printJson(event);
            const lines = applyPlanEvent(state, event);
            if (!board) {
              for (const line of lines) process.stdout.write(`${line}\n`);
            } else {
              pending ??= setTimeout(() => {
                pending = undefined;
                redraw();
              }, redrawIntervalMs);
            }
          },
        });
      } catch (error) {
        // Given up (the server gone, a 404): the board ends first, so the error is not drawn over.
        board?.end();
        throw error;
      } finally {
        clearInterval(clock);
        clearTimeout(pending);
        process.off('SIGINT', interrupted);
      }
      process.exitCode = planWatchExitCode(final.status);
      if (flags.json) return;
      if (board) {
        // The table as it ended, from the plan itself (no event left out).
        const settled = newPlanWatchState(final);
        for (const [key, row] of state.rows) {
          const last = settled.rows.get(key);
          if (last) last.activity = row.activity;
        }
        board.draw(
          renderPlanBoard(settled, { columns: board.columns, rows: board.rows, now: Date.now() }),
        );
        board.end();
      }
      const reason =
        final.reason && !stuckOnTickets(final) ? `: ${terminalSafe(final.reason)}` : '';
      process.stdout.write(`${final.id} is ${final.status}${reason}; ${headline(final, false)}\n`);
      // What a person does next with a plan that waits on one (a retry, a conflict to resolve).
      if (final.status === 'blocked' || final.status === 'stopped') {
        process.stdout.write(`next: ${nextStep(final)}\n`);
      }
    });
}

/** `pln_x running: 2/5 tickets approved, $0.0123`. */
function headline(plan: Plan, withStatus = true): string {
  const approved = plan.tickets.filter((ticket) => planTicketWord(ticket) === 'approved').length;
  return `${withStatus ? `${plan.id} ${plan.status}: ` : ''}${approved}/${plan.tickets.length} tickets approved, ${formatUsd(plan.usage.costUsd)}`;
}
