import type { Plan } from '../../api/plans.ts';
import type { PlanChange } from '../../sdk/index.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import { upsert, useLiveList } from '../live/use-live-list.ts';
import { planCost, planProgress } from '../plans/plan-progress.ts';

/** The list as a plan change leaves it: a new plan goes first (the list is newest first). */
function applyPlanChange(plans: Plan[] | undefined, change: PlanChange): Plan[] {
  if (change.type === 'plans') return change.plans;
  return upsert(
    plans ?? [],
    change.plan,
    (plan) => plan.id,
    (all, plan) => [plan, ...all],
  );
}

/**
 * `/plans`: the owner's plans, newest first, with status and progress, followed live on one
 * stream (`plans.follow`): a plan's snapshot comes each time its status, its tickets' progress
 * or its cost changes.
 */
export default function PlansPage() {
  usePageTitle('Plans');
  const mags = useMags();
  const live = useLiveList((signal) => mags.plans.follow({ signal }), applyPlanChange, [mags]);
  const plans = { data: live.items, error: live.error, loading: live.items === undefined };
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
