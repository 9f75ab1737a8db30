import type { Evidence } from '../../api/tickets.ts';
import { formatCostUsd } from '../format/format-cost-usd.ts';
import { formatDurationMs } from '../format/format-duration-ms.ts';
import { formatTime } from '../format/format-time.ts';
import { formatTokens } from '../format/format-tokens.ts';

/** What the attempt cost and took, and its timeline (status changes, commands, checks). */
export function RunSummary(props: { evidence: Evidence }) {
  const { evidence } = props;
  const { usage } = evidence;
  return (
    <>
      <dl class="run-summary">
        <div>
          <dt>Cost</dt>
          <dd>{formatCostUsd(usage.costUsd)}</dd>
        </div>
        <div>
          <dt>Tokens</dt>
          <dd>
            {formatTokens(usage.inputTokens)} in · {formatTokens(usage.outputTokens)} out
          </dd>
        </div>
        <div>
          <dt>Steps</dt>
          <dd>{usage.steps}</dd>
        </div>
        <div>
          <dt>Took</dt>
          <dd>{formatDurationMs(evidence.durationMs)}</dd>
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
                <time dateTime={entry.at}>{formatTime(entry.at)}</time> <span>{entry.event}</span>
              </li>
            ))}
          </ol>
        </details>
      ) : null}
    </>
  );
}
