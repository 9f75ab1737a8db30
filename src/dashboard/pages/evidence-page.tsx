import { useEffect, useState } from 'preact/hooks';
import type { Ticket } from '../../api/tickets.ts';
import type { Mags } from '../../sdk/mags.ts';
import { useMags } from '../client-context.ts';
import { Breadcrumbs } from '../components/breadcrumbs.tsx';
import { DiffView } from '../components/diff-view.tsx';
import { ErrorView } from '../components/error-view.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import { useNarrowScreen } from '../diff/use-narrow-screen.ts';
import { ChangedFiles } from '../evidence/changed-files.tsx';
import { ClaimsVersusChecks } from '../evidence/claims-versus-checks.tsx';
import { CriteriaTable } from '../evidence/criteria-table.tsx';
import { ReviewActions } from '../evidence/review-actions.tsx';
import { RunSummary } from '../evidence/run-summary.tsx';
import { TestResults } from '../evidence/test-results.tsx';
import { formatTime } from '../format/format-time.ts';
import { followTicketSnapshots } from '../live/follow-ticket.ts';
import { useResource } from '../live/use-resource.ts';
import type { PageProps } from '../routes.ts';

const fileId = (path: string) => `file-${encodeURIComponent(path)}`;

/**
 * `/tickets/ID/evidence`: what the platform verified when the agent said it was done (the diff,
 * the tests, each criterion's check) beside what the agent claimed, with cost and timeline, and
 * the review: approve, request changes, close.
 */
export default function EvidencePage(props: PageProps) {
  const id = props.params[0] ?? '';
  usePageTitle(`Evidence ${id}`);
  const mags = useMags();
  const ticket = useResource(() => mags.tickets.get(id), [id]);
  const live = useLiveTicket(mags, id, ticket.data?.project);
  const [reviewed, setReviewed] = useState<Ticket>();
  const current = newest(newest(ticket.data, live), reviewed);
  // Read again whenever the ticket comes to rest in another status or attempt: a page opened
  // while the agent works shows the evidence the moment the run ends.
  const settled =
    current && current.status !== 'queued' && current.status !== 'running'
      ? `${current.status}/${current.attempt}`
      : 'working';
  const evidence = useResource(() => mags.tickets.evidence(id), [id, settled]);
  const [mode, setMode] = useState<'unified' | 'split'>('unified');
  const narrow = useNarrowScreen();

  if (ticket.error) return <ErrorView error={ticket.error} title={`Ticket ${id}`} />;
  if (!current) return <p class="loading">Loading ticket…</p>;
  return (
    <article class="evidence-page">
      <Breadcrumbs
        trail={[
          { title: 'Tickets', href: '/tickets' },
          { title: id, href: `/tickets/${encodeURIComponent(id)}` },
        ]}
        current="Evidence"
      />
      <h1>
        {current.title} <StatusBadge status={current.status} />
      </h1>
      {current.reason ? <p class="muted">{current.reason}</p> : null}
      {evidence.error ? (
        <ErrorView error={evidence.error} title="No evidence" />
      ) : !evidence.data ? (
        <p class="loading">Loading evidence…</p>
      ) : (
        <>
          <p class="muted">
            Attempt {evidence.data.attempt} of {current.attempt}, finished{' '}
            <time dateTime={evidence.data.finishedAt}>{formatTime(evidence.data.finishedAt)}</time>
          </p>
          <ClaimsVersusChecks evidence={evidence.data} />
          <ReviewActions ticket={current} onDone={setReviewed} />
          <h2>Criteria</h2>
          <CriteriaTable criteria={evidence.data.criteria} />
          <h2>Tests</h2>
          <TestResults tests={evidence.data.tests} />
          <div class="page-heading">
            <h2 id="diff-heading">Changes</h2>
            {narrow ? null : (
              <fieldset class="segmented">
                <legend class="visually-hidden">Diff layout</legend>
                {(['unified', 'split'] as const).map((value) => (
                  <button
                    key={value}
                    type="button"
                    class={mode === value ? undefined : 'quiet'}
                    aria-pressed={mode === value}
                    onClick={() => setMode(value)}
                  >
                    {value === 'unified' ? 'Unified' : 'Side by side'}
                  </button>
                ))}
              </fieldset>
            )}
          </div>
          <div class="evidence-diff">
            <ChangedFiles files={evidence.data.diffStat.files} fileId={fileId} />
            <div class="evidence-diff-body">
              <DiffView diff={evidence.data.diff} mode={mode} fileId={fileId} />
            </div>
          </div>
          <h2>Cost and time</h2>
          <RunSummary evidence={evidence.data} />
        </>
      )}
    </article>
  );
}

/** The later of two reads of one ticket. */
const newest = (a: Ticket | undefined, b: Ticket | undefined) =>
  !a || (b && b.updatedAt >= a.updatedAt) ? b : a;

/** The ticket as the owner's ticket stream has it now (its project's tickets, this one taken). */
function useLiveTicket(mags: Mags, id: string, project: string | undefined): Ticket | undefined {
  const [ticket, setTicket] = useState<Ticket>();
  useEffect(() => {
    if (!project) return;
    const controller = new AbortController();
    void (async () => {
      try {
        for await (const found of followTicketSnapshots(mags, id, project, controller.signal)) {
          setTicket(found);
        }
      } catch {
        // Not live any more: the page shows the ticket as read.
      }
    })();
    return () => controller.abort();
  }, [mags, id, project]);
  return ticket;
}
