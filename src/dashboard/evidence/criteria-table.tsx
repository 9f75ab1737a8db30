import type { CriterionResult } from '../../api/tickets.ts';
import { AnsiText } from '../components/ansi-text.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { formatDurationMs } from '../format/format-duration-ms.ts';

/** Each criterion: the platform's verdict, the agent's claim, the check and what it printed. */
export function CriteriaTable(props: { criteria: CriterionResult[] }) {
  if (props.criteria.length === 0) return <p class="muted">This ticket has no criteria.</p>;
  return (
    <div class="table-scroll">
      <table class="criteria-table">
        <thead>
          <tr>
            <th scope="col">Criterion</th>
            <th scope="col">Verified</th>
            <th scope="col">Agent's claim</th>
            <th scope="col">Check</th>
          </tr>
        </thead>
        <tbody>
          {props.criteria.map((criterion) => (
            <tr key={criterion.criterion} class={`criterion criterion-${criterion.status}`}>
              <td>
                {criterion.criterion + 1}. {criterion.text}
              </td>
              <td>
                <StatusBadge status={criterion.status} />
                {criterion.timedOut ? <span class="muted"> (timed out)</span> : null}
              </td>
              <td>
                {criterion.claim ? (
                  <>
                    <span
                      class={
                        criterion.claim.met && criterion.status === 'not_met'
                          ? 'claim claim-contradicted'
                          : 'claim'
                      }
                    >
                      {criterion.claim.met ? 'claims met' : 'claims not met'}
                    </span>
                    {criterion.claim.note ? (
                      <span class="muted"> — {criterion.claim.note}</span>
                    ) : null}
                  </>
                ) : (
                  <span class="muted">no claim</span>
                )}
              </td>
              <td class="criterion-check">
                {criterion.check === null ? (
                  <span class="muted">No check command: a person decides.</span>
                ) : (
                  <details>
                    <summary>
                      <code>{criterion.check}</code>
                      <span class="muted">
                        {' '}
                        exit {criterion.exitCode ?? '—'} · {formatDurationMs(criterion.durationMs)}
                      </span>
                    </summary>
                    {criterion.output === '' ? (
                      <p class="muted">No output.</p>
                    ) : (
                      <pre class="output-box">
                        <AnsiText text={criterion.output} />
                      </pre>
                    )}
                  </details>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
