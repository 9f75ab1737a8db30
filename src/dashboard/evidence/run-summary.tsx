import type { Evidence } from '../../api/tickets.ts';
import { formatDuration } from './criteria-table.tsx';

/** What the attempt cost and took, and its timeline (status changes, commands, checks). */
export function RunSummary(props: { evidence: Evidence }) {
  const { evidence } = props;
  const { usage } = evidence;
  return (
    <>
      <dl class="run-summary">
        <div>
          <dt>Cost</dt>
          <dd>${usage.costUsd.toFixed(4)}</dd>
        </div>
        <div>
          <dt>Tokens</dt>
          <dd>
            {usage.inputTokens.toLocaleString()} in · {usage.outputTokens.toLocaleString()} out
          </dd>
        </div>
        <div>
          <dt>Steps</dt>
          <dd>{usage.steps}</dd>
        </div>
        <div>
          <dt>Took</dt>
          <dd>{formatDuration(evidence.durationMs)}</dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>{evidence.attempt}</dd>
        </div>
      </dl>
      {evidence.timeline && evidence.timeline.length > 0 ? (
        <details>
          <summary>Timeline ({evidence.timeline.length} entries)</summary>
          <ol class="timeline">
            {evidence.timeline.map((entry, index) => (
              <li key={index}>
                <time dateTime={entry.at}>{new Date(entry.at).toLocaleTimeString()}</time>{' '}
                <span>{entry.event}</span>
              </li>
            ))}
          </ol>
        </details>
      ) : null}
    </>
  );
}
