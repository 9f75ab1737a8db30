import { useEffect, useRef, useState } from 'preact/hooks';
import type { Ticket } from '../../api/tickets.ts';
import { BoardColumns } from '../board/board-columns.tsx';
import { BoardFilters, type FilterKey, filterKeys } from '../board/board-filters.tsx';
import { CreateTicketForm } from '../board/create-ticket-form.tsx';
import { useLiveTickets } from '../board/use-live-tickets.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import { useResource } from '../live/use-resource.ts';
import { useQuery } from '../router.ts';

const modelOf = (ticket: Ticket) => ticket.model ?? 'default';
const filterValue = (ticket: Ticket, key: FilterKey) =>
  key === 'model' ? modelOf(ticket) : key === 'role' ? ticket.role : ticket.project;

/** `/tickets`: the owner's tickets in a column per status, live, filterable, and a new-ticket form. */
export default function TicketsBoard() {
  usePageTitle('Tickets');
  const mags = useMags();
  const query = useQuery();
  const live = useLiveTickets();
  const projects = useResource(() => mags.projects.list(), [mags]);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Ticket>();
  // Closing the form without a ticket gives the keyboard focus back to the button that opened it.
  const newTicketButton = useRef<HTMLButtonElement>(null);
  const refocusNewTicket = useRef(false);
  useEffect(() => {
    if (creating || !refocusNewTicket.current) return;
    refocusNewTicket.current = false;
    newTicketButton.current?.focus();
  }, [creating]);
  const closeForm = () => {
    refocusNewTicket.current = true;
    setCreating(false);
  };

  const all = live.tickets ?? [];
  const projectNames = (projects.data ?? []).map((project) => project.name);
  const distinct = (values: string[]) => [...new Set(values)].sort();
  const options: Record<FilterKey, string[]> = {
    project: distinct([...projectNames, ...all.map((ticket) => ticket.project)]),
    role: distinct(all.map((ticket) => ticket.role)),
    model: distinct(all.map(modelOf)),
  };
  const shown = all.filter((ticket) =>
    filterKeys.every((key) => {
      const wanted = query.get(key);
      return !wanted || filterValue(ticket, key) === wanted;
    }),
  );
  const filtered = filterKeys.some((key) => query.get(key));

  return (
    <section class="tickets-board">
      <div class="page-heading">
        <h1>Tickets</h1>
        {!creating ? (
          <button
            type="button"
            ref={newTicketButton}
            onClick={() => {
              setCreating(true);
              setCreated(undefined);
            }}
          >
            New ticket
          </button>
        ) : null}
      </div>
      {creating ? (
        projects.data && projects.data.length === 0 ? (
          <div class="card">
            <p>
              A ticket belongs to a project: import one first with <code>mags project create</code>.
            </p>
            <button type="button" class="quiet" onClick={closeForm}>
              Close
            </button>
          </div>
        ) : (
          <CreateTicketForm
            projects={projectNames}
            projectModels={Object.fromEntries(
              (projects.data ?? []).map((project) => [
                project.name,
                project.model ?? project.config.model ?? undefined,
              ]),
            )}
            initialProject={query.get('project') ?? undefined}
            onCancel={closeForm}
            onCreated={(ticket) => {
              setCreating(false);
              setCreated(ticket);
            }}
          />
        )
      ) : null}
      {created ? (
        <p class="notice" role="status">
          Created {created.id}: {created.title} ({created.status.replaceAll('_', ' ')}).
        </p>
      ) : null}
      <BoardFilters query={query} options={options} />
      {live.error ? <ErrorView error={live.error} title="The live list stopped" /> : null}
      {projects.error ? <ErrorView error={projects.error} title="Projects" /> : null}
      {live.tickets === undefined ? (
        live.error ? null : (
          <p class="loading">Loading tickets…</p>
        )
      ) : all.length === 0 ? (
        <p class="muted empty-state">
          No tickets yet. Create one with “New ticket”, or <code>mags ticket create</code>.
        </p>
      ) : (
        <>
          {filtered && shown.length === 0 ? (
            <p class="muted empty-state">No tickets match these filters.</p>
          ) : null}
          <BoardColumns tickets={shown} />
        </>
      )}
    </section>
  );
}
