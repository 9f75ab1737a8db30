import type { Criterion } from '../../api/tickets.ts';
import { StatusBadge } from '../components/status-badge.tsx';
import type { TicketSummary } from './ticket-timeline.ts';

/** The acceptance criteria with each one's latest check (met / not met / needs a person). */
export function CriteriaCard(props: { criteria: Criterion[]; checks: TicketSummary['checks'] }) {
  return (
    <section class="card criteria-card" aria-labelledby="criteria-heading">
      <h2 id="criteria-heading">Acceptance criteria</h2>
      <ol>
        {props.criteria.map((criterion, index) => {
          const check = props.checks[index];
          return (
            <li key={index}>
              {check ? (
                <StatusBadge status={check.status} />
              ) : (
                <span class="badge">not checked</span>
              )}{' '}
              {criterion.text}
              {criterion.check ? (
                <>
                  {' '}
                  <code class="muted">{criterion.check}</code>
                </>
              ) : null}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
