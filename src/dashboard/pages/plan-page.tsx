import type { Plan, PlanTicket } from '../../api/plans.ts';
import { useMags } from '../client-context.ts';
import { Breadcrumbs } from '../components/breadcrumbs.tsx';
import { ErrorView } from '../components/error-view.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { useAction } from '../components/use-action.ts';
import { usePageTitle } from '../components/use-page-title.ts';
import { formatDurationMs } from '../format/format-duration-ms.ts';
import { formatTokens } from '../format/format-tokens.ts';
import { PlanGraph } from '../plans/plan-graph.tsx';
import { planCost, planProgress } from '../plans/plan-progress.ts';
import { useLivePlan } from '../plans/use-live-plan.ts';
import type { PageProps } from '../routes.ts';

const ended = new Set<Plan['status']>(['approved', 'failed', 'closed']);
/** A ticket a retry takes up again: its own run ended badly, or its merge conflicted. */
const deadEnd = (ticket: PlanTicket) =>
  ticket.state === 'conflict' ||
  (ticket.state === 'blocked' && !ticket.blockedBy) ||
  ticket.ticketStatus === 'failed' ||
  ticket.ticketStatus === 'stopped' ||
  ticket.ticketStatus === 'closed';

/** `/plans/ID`: the plan's DAG with each ticket's live status, its request and budget, actions. */
export default function PlanPage(props: PageProps) {
  const id = props.params[0] ?? '';
  usePageTitle(`Plan ${id}`);
  const mags = useMags();
  const live = useLivePlan(id);
  const action = useAction();
  const plan = live.plan;

  const act = (name: string, request: () => Promise<Plan>) =>
    action.run(async () => {
      live.setPlan(await request());
      live.restart(); // it moves again: follow its events again
    }, name);

  if (live.error && !plan) return <ErrorView error={live.error} />;
  if (!plan) return <p class="loading">Loading plan…</p>;
  const canApprove = plan.status === 'draft' || plan.status === 'awaiting_review';
  const canStop = ['planning', 'draft', 'running', 'integrating', 'blocked'].includes(plan.status);
  const canRetry = plan.status === 'blocked' || plan.status === 'stopped';
  return (
    <section class="plan-page">
      <Breadcrumbs trail={[{ title: 'Plans', href: '/plans' }]} current={plan.id} />
      <div class="page-heading">
        <h1>{plan.summary ?? 'Plan'}</h1>
        <StatusBadge status={plan.status} />
      </div>
      <p class="muted">
        <code>{plan.id}</code> · project {plan.project} · {planProgress(plan)} · cost{' '}
        {planCost(plan)}
      </p>
      {plan.reason ? <p class="plan-reason">{plan.reason}</p> : null}
      <div class="toolbar">
        {canApprove ? (
          <button
            type="button"
            disabled={action.busy}
            onClick={() => act('approve', () => mags.plans.approve(plan.id))}
          >
            {plan.status === 'draft' ? 'Approve and run' : 'Approve result'}
          </button>
        ) : null}
        {canStop ? (
          <button
            type="button"
            class="danger"
            disabled={action.busy}
            onClick={() =>
              act('stop', () => mags.plans.stop(plan.id, { reason: 'from the dashboard' }))
            }
          >
            Stop plan
          </button>
        ) : null}
        {!ended.has(plan.status) ? (
          <button
            type="button"
            class="quiet"
            disabled={action.busy}
            onClick={() => act('close', () => mags.plans.close(plan.id))}
          >
            Close plan
          </button>
        ) : null}
        {plan.branch ? (
          <span>
            Branch <code>{plan.branch}</code>
          </span>
        ) : null}
      </div>
      {action.error !== undefined ? <ErrorView error={action.error} /> : null}
      {live.error ? <ErrorView error={live.error} title="Live updates stopped" /> : null}
      <h2>Tickets</h2>
      <PlanGraph
        plan={plan}
        canRetry={(ticket) => canRetry && deadEnd(ticket)}
        onRetry={(ticket) => act('retry', () => mags.plans.retry(plan.id, ticket.key))}
      />
      <h2>Request</h2>
      <pre class="plan-request card">{plan.request}</pre>
      <h2>Budget</h2>
      <dl class="facts">
        <dt>Cost</dt>
        <dd>{planCost(plan)}</dd>
        <dt>Tokens</dt>
        <dd>
          {formatTokens(plan.usage.inputTokens + plan.usage.outputTokens)}
          {plan.budget.maxTokens === undefined ? '' : ` of ${formatTokens(plan.budget.maxTokens)}`}
        </dd>
        <dt>Wall time</dt>
        <dd>
          {plan.budget.maxWallMs === undefined
            ? 'no limit of its own'
            : formatDurationMs(plan.budget.maxWallMs)}
        </dd>
        <dt>In parallel</dt>
        <dd>at most {plan.maxParallel} tickets</dd>
      </dl>
    </section>
  );
}
