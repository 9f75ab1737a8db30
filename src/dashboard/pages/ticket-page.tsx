import { useMemo } from 'preact/hooks';
import { useMags } from '../client-context.ts';
import { Breadcrumbs } from '../components/breadcrumbs.tsx';
import { ErrorView } from '../components/error-view.tsx';
import { useAction } from '../components/use-action.ts';
import { usePageTitle } from '../components/use-page-title.ts';
import type { PageProps } from '../routes.ts';
import { CommentBox } from '../ticket/comment-box.tsx';
import { CriteriaCard } from '../ticket/criteria-card.tsx';
import { EventRow } from '../ticket/event-row.tsx';
import { RowPages } from '../ticket/row-pages.tsx';
import { TicketHeader } from '../ticket/ticket-header.tsx';
import type { TimelineItem } from '../ticket/ticket-timeline.ts';
import { useStickToBottom } from '../ticket/use-stick-to-bottom.ts';
import { useTicketStream } from '../ticket/use-ticket-stream.ts';

/**
 * A ticket live: its agent's events as they happen (model text streaming in, commands with
 * their output, file changes as diffs, checks), cost and tokens running against the budget, a
 * comment box that steers the agent, start and stop. `data-event-id` on each event (in
 * `data-testid="ticket-events"`) is what the dashboard benchmark measures by.
 */
export default function TicketPage(props: PageProps) {
  const id = props.params[0] ?? '';
  usePageTitle(`Ticket ${id}`);
  const mags = useMags();
  const stream = useTicketStream(mags, id);
  const action = useAction();
  const running = stream.summary?.status === 'queued' || stream.summary?.status === 'running';
  useStickToBottom(stream.version, running);
  // Kept the same array while the texts are the same: a refetched ticket re-renders no row.
  const criteriaKey = JSON.stringify(stream.ticket?.criteria.map((criterion) => criterion.text));
  const criteria = useMemo(
    () => (JSON.parse(criteriaKey ?? '[]') ?? []) as string[],
    [criteriaKey],
  );

  const { ticket, summary } = stream;
  if (!ticket || !summary) {
    return stream.error ? (
      <ErrorView error={stream.error} title={`Ticket ${id}`} />
    ) : (
      <p class="loading">Loading ticket {id}…</p>
    );
  }
  const items = stream.timeline.items;
  return (
    <div class="ticket-page">
      <Breadcrumbs
        trail={[
          { title: 'Tickets', href: '/tickets' },
          ...(ticket.plan
            ? [{ title: ticket.plan, href: `/plans/${encodeURIComponent(ticket.plan)}` }]
            : []),
        ]}
        current={ticket.id}
      />
      <TicketHeader
        ticket={ticket}
        summary={summary}
        state={stream.state}
        busy={action.busy}
        onRun={() =>
          action.run(async () => {
            // Following again (after the last event taken in) whatever the stream was doing:
            // one that saw the ticket idle is ending, and would miss the run.
            stream.follow(await mags.tickets.run(id));
          })
        }
        onStop={() =>
          action.run(async () => {
            await mags.tickets.stop(id, { reason: 'stopped from the dashboard' });
          })
        }
      />
      {action.error !== undefined ? <ErrorView error={action.error} /> : null}
      {stream.error ? <ErrorView error={stream.error} title="The live stream stopped" /> : null}
      <details class="ticket-request">
        <summary>Request</summary>
        <p class="prose">{ticket.request}</p>
      </details>
      <CriteriaCard criteria={ticket.criteria} checks={summary.checks} />
      <h2 id="events-heading">Events</h2>
      <ol class="ticket-events" data-testid="ticket-events" aria-labelledby="events-heading">
        <RowPages
          rows={items}
          version={stream.version}
          context={criteria}
          render={(item: TimelineItem) => (
            <EventRow
              key={item.key}
              item={item}
              version={item.kind === 'text' ? item.version : 0}
              ticketId={id}
              criteria={criteria}
            />
          )}
        />
      </ol>
      {items.length === 0 ? (
        <p class="muted">
          {summary.status === 'draft'
            ? 'No events yet: start the run to see the agent work here, live.'
            : 'No events yet.'}
        </p>
      ) : null}
      {running ? <p class="muted working">The agent is working…</p> : null}
      {summary.status !== 'approved' && summary.status !== 'closed' ? (
        <CommentBox
          mags={mags}
          ticketId={id}
          running={running}
          onPosted={(event) => {
            // A live stream brings it anyway; otherwise it is shown from the answer.
            if (stream.state === 'ended') stream.add([event]);
          }}
        />
      ) : null}
    </div>
  );
}
