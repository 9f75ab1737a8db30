import type { Evidence, TicketEvent } from '../api/tickets.ts';
import { criterionStatusWords } from './evidence/criterion-status-words.ts';

export type Timeline = NonNullable<Evidence['timeline']>;

/** The longest command shown in a timeline entry (the event has all of it). */
const maxCommandChars = 200;

/**
 * The timeline of one attempt from its stored events: status changes, each command with its exit
 * code and duration, retries, the agent's finish and each criterion's check. Model text, tool
 * calls and file changes are in the events and the diff, not here.
 */
export function attemptTimeline(events: readonly TicketEvent[], attempt: number): Timeline {
  const timeline: Timeline = [];
  for (const { at, attempt: of, data } of events) {
    if (of !== attempt) continue;
    let event: string | undefined;
    switch (data.type) {
      case 'status':
        event = `${data.to}${data.reason ? `: ${data.reason}` : ''}`;
        break;
      case 'command': {
        const command =
          data.command.length > maxCommandChars
            ? `${data.command.slice(0, maxCommandChars - 1)}…`
            : data.command;
        const end = data.timedOut ? 'timed out' : `exit ${data.exitCode ?? '?'}`;
        event = `${data.source} $ ${command} → ${end} in ${formatMs(data.durationMs)}`;
        break;
      }
      case 'retry':
        event = `retry ${data.attempt} in ${formatMs(data.delayMs)}: ${data.message}`;
        break;
      case 'finish':
        event = `the agent finished: ${data.summary.split('\n')[0] ?? ''}`;
        break;
      case 'check':
        event = `criterion ${data.criterion + 1}: ${criterionStatusWords[data.status]}${data.exitCode === null ? '' : ` (exit ${data.exitCode})`}`;
        break;
    }
    if (event !== undefined) timeline.push({ at, event });
  }
  return timeline;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
