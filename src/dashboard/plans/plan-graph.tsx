import type { Plan, PlanTicket } from '../../api/plans.ts';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { layOutPlan, nodeHeightPx, nodeWidthPx } from './plan-layout.ts';

/** Where a ticket of the plan is: its ticket's own status once dispatched, else the plan's state. */
export const ticketProgress = (ticket: PlanTicket) =>
  ticket.state === 'dispatched' && ticket.ticketStatus ? ticket.ticketStatus : ticket.state;

/**
 * The plan's tickets as a graph: a column per dependency depth, an arrow per dependency, each
 * node linking to its ticket once the plan made it. Scrolls sideways on a narrow screen.
 */
export function PlanGraph(props: {
  plan: Plan;
  /** Shown on the tickets `canRetry` allows. */
  onRetry?: (ticket: PlanTicket) => void;
  canRetry?: (ticket: PlanTicket) => boolean;
}) {
  const { nodes, edges, widthPx, heightPx } = layOutPlan(props.plan.tickets);
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a keyboard user scrolls it sideways on a narrow screen (axe: scrollable-region-focusable)
    <section class="plan-graph-scroll" tabIndex={0} aria-label="The plan's tickets by dependency">
      <div class="plan-graph" style={{ width: `${widthPx}px`, height: `${heightPx}px` }}>
        <svg
          class="plan-edges"
          width={widthPx}
          height={heightPx}
          viewBox={`0 0 ${widthPx} ${heightPx}`}
          aria-hidden="true"
        >
          <defs>
            <marker
              id="plan-arrow"
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M 0 0 L 10 5 L 0 10 z" class="plan-arrow-head" />
            </marker>
          </defs>
          {edges.map((edge) => (
            <path
              key={`${edge.from}->${edge.to}`}
              d={edge.path}
              class="plan-edge"
              data-edge={`${edge.from}->${edge.to}`}
              marker-end="url(#plan-arrow)"
            />
          ))}
        </svg>
        <ol class="plan-nodes">
          {nodes.map((node) => {
            const ticket = node.ticket;
            const progress = ticketProgress(ticket);
            return (
              <li
                key={ticket.key}
                class="plan-node card"
                data-key={ticket.key}
                data-progress={progress}
                style={{
                  left: `${node.x}px`,
                  top: `${node.y}px`,
                  width: `${nodeWidthPx}px`,
                  height: `${nodeHeightPx}px`,
                }}
              >
                <div class="plan-node-head">
                  <code class="plan-node-key">{ticket.key}</code>
                  <StatusBadge status={progress} />
                </div>
                {ticket.ticket ? (
                  <Link
                    href={`/tickets/${encodeURIComponent(ticket.ticket)}`}
                    class="plan-node-title"
                  >
                    {ticket.title}
                  </Link>
                ) : (
                  <span class="plan-node-title">{ticket.title}</span>
                )}
                {ticket.dependsOn.length > 0 ? (
                  <span class="visually-hidden">depends on {ticket.dependsOn.join(', ')}</span>
                ) : null}
                {props.onRetry && props.canRetry?.(ticket) ? (
                  <button
                    type="button"
                    class="quiet plan-node-retry"
                    aria-label={`Retry ${ticket.key}`}
                    onClick={() => props.onRetry?.(ticket)}
                  >
                    Retry
                  </button>
                ) : null}
              </li>
            );
          })}
        </ol>
      </div>
    </section>
  );
}
