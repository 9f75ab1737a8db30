import type { Evidence, TicketEvent } from '../api/tickets.ts';
import { criterionStatusWords } from './evidence/criterion-status-words.ts';

export type Timeline = NonNullable<Evidence['timeline']>;

/** The longest command shown in a timeline entry (the event has all of it). */
const maxCommandChars = 200;

/**
 * The timeline of one attempt from its stored events: status changes, each command with its exit
 * code and duration, retries, the agent's finish and each criterion's check. Model text, tool
 * calls and file changes are in the events and the diff, not here. An attempt queued by a
 * request for changes starts with that request (who asked, and what).
 */
export function attemptTimeline(events: readonly TicketEvent[], attempt: number): Timeline {
  const timeline: Timeline = [];
  const cause = changesRequestedBefore(events, attempt);
  for (const item of events) {
    const { at, attempt: of, data } = item;
    if (of !== attempt && item !== cause) continue;
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

/**
 * The `changes_requested` status that queued `attempt`, if one did: it is recorded under the
 * attempt reviewed (its number is the old one), just before the new attempt's first event.
 */
function changesRequestedBefore(
  events: readonly TicketEvent[],
  attempt: number,
): TicketEvent | undefined {
  const first = events.findIndex((event) => event.attempt === attempt);
  for (let index = first - 1; index >= 0; index--) {
    const event = events[index];
    if (event?.data.type !== 'status') continue;
    return event.data.to === 'changes_requested' ? event : undefined;
  }
  return undefined;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
