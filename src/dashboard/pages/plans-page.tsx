import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Ticket } from '../../api/tickets.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import { useResource } from '../live/use-resource.ts';
import { planCost, planProgress } from '../plans/plan-progress.ts';
import { withTicketSnapshots } from '../plans/plan-ticket-snapshots.ts';

/**
 * `/plans`: the owner's plans, newest first, with status and progress. Progress and cost follow
 * the plans' tickets live (the owner's ticket stream); the API has no stream of the plans list,
 * so a plan's own status is as read when the page opened.
 */
export default function PlansPage() {
  usePageTitle('Plans');
  const mags = useMags();
  const listed = useResource(() => mags.plans.list(), [mags]);
  const tickets = usePlanTickets();
  const data = useMemo(
    () => listed.data?.map((plan) => withTicketSnapshots(plan, tickets)),
    [listed.data, tickets],
  );
  const plans = { ...listed, data };
  return (
    <section class="plans-page">
      <h1>Plans</h1>
      {plans.error ? <ErrorView error={plans.error} /> : null}
      {plans.loading && !plans.data ? <p class="loading">Loading plans…</p> : null}
      {plans.data && plans.data.length === 0 ? (
        <p class="muted empty-state">
          No plans yet. A plan turns one request into tickets with dependencies: make one with{' '}
          <code>mags plan create --project NAME "the request"</code> (or from a plan file with{' '}
          <code>--file</code>).
        </p>
      ) : null}
      {plans.data && plans.data.length > 0 ? (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Plan</th>
                <th scope="col">Project</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {plans.data.map((plan) => (
                <tr key={plan.id} data-plan={plan.id}>
                  <td>
                    <Link href={`/plans/${encodeURIComponent(plan.id)}`}>
                      {plan.summary ?? plan.request}
                    </Link>
                    <div class="muted">
                      <code>{plan.id}</code>
                    </div>
                  </td>
                  <td>{plan.project}</td>
                  <td>
                    <StatusBadge status={plan.status} />
                  </td>
                  <td>{planProgress(plan)}</td>
                  <td>{planCost(plan)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

/** The owner's plan tickets as the ticket stream has them now, by id. */
function usePlanTickets(): ReadonlyMap<string, Ticket> {
  const mags = useMags();
  const [tickets, setTickets] = useState<ReadonlyMap<string, Ticket>>(new Map());
  useEffect(() => {
    const controller = new AbortController();
    void (async () => {
      try {
        for await (const change of mags.tickets.follow({ signal: controller.signal })) {
          const changed = change.type === 'tickets' ? change.tickets : [change.ticket];
          setTickets((previous) => {
            const next = new Map(change.type === 'tickets' ? [] : previous);
            for (const ticket of changed) if (ticket.plan) next.set(ticket.id, ticket);
            return next;
          });
        }
      } catch {
        // Progress stays as listed; the list itself shows its own read's error.
      }
    })();
    return () => controller.abort();
  }, [mags]);
  return tickets;
}
