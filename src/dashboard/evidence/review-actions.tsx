import { useState } from 'preact/hooks';
import type { Ticket, TicketStatus } from '../../api/tickets.ts';
import { useMags } from '../client-context.ts';
import { ConfirmButton } from '../components/confirm-button.tsx';

type Action = 'approve' | 'request-changes' | 'close';

/** The statuses each review action is allowed in (the server's rule: ticket-errors.ts). */
const allowedIn: Record<Action, readonly TicketStatus[]> = {
  approve: ['awaiting_review'],
  'request-changes': ['awaiting_review', 'failed', 'stopped'],
  close: [
    'draft',
    'queued',
    'running',
    'awaiting_review',
    'approved',
    'changes_requested',
    'failed',
    'stopped',
  ],
};

const labels: Record<Action, string> = {
  approve: 'Approve',
  'request-changes': 'Request changes',
  close: 'Close',
};

/**
 * Approve, request changes, close: each asks first, saying what will happen, then shows what the
 * API answered. Only the actions the ticket's status allows are offered.
 */
export function ReviewActions(props: { ticket: Ticket; onDone: (ticket: Ticket) => void }) {
  const mags = useMags();
  const { ticket } = props;
  const [asking, setAsking] = useState<Action>();
  const [feedback, setFeedback] = useState('');
  const [result, setResult] = useState<{ action: Action; ticket: Ticket }>();

  const offered = (Object.keys(allowedIn) as Action[]).filter((action) =>
    allowedIn[action].includes(ticket.status),
  );

  const act = async (action: Action) => {
    const updated =
      action === 'approve'
        ? await mags.tickets.approve(ticket.id)
        : action === 'close'
          ? await mags.tickets.close(ticket.id)
          : await mags.tickets.requestChanges(ticket.id, feedback.trim());
    setResult({ action, ticket: updated });
    setFeedback('');
    props.onDone(updated);
  };

  return (
    <section class="review-actions" aria-labelledby="review-heading">
      <h2 id="review-heading">Review</h2>
      {result ? <ResultNote action={result.action} ticket={result.ticket} /> : null}
      {offered.length === 0 ? (
        <p class="muted">Nothing to review: this ticket is {ticket.status.replaceAll('_', ' ')}.</p>
      ) : (
        <div class="toolbar">
          {offered.map((action) => (
            <ConfirmButton
              key={action}
              label={`${labels[action]}…`}
              class={action === 'approve' ? undefined : action === 'close' ? 'danger' : 'quiet'}
              danger={action === 'close'}
              open={asking === action}
              onOpenChange={(open) => setAsking(open ? action : undefined)}
              consequence={consequence(action, ticket)}
              confirmLabel={`Confirm: ${labels[action].toLowerCase()}`}
              errorTitle={`Could not ${labels[action].toLowerCase()}`}
              confirmDisabled={action === 'request-changes' && feedback.trim() === ''}
              onConfirm={() => act(action)}
            >
              {action === 'request-changes' ? (
                <>
                  <label for="review-feedback">What should change</label>
                  <textarea
                    id="review-feedback"
                    required
                    value={feedback}
                    onInput={(event) => setFeedback(event.currentTarget.value)}
                  />
                </>
              ) : null}
            </ConfirmButton>
          ))}
        </div>
      )}
    </section>
  );
}

function consequence(action: Action, ticket: Ticket): string {
  switch (action) {
    case 'approve':
      return `Approving commits this diff on the base commit as branch mags/${ticket.id} of project ${ticket.project}; you fetch it into your checkout with mags ticket apply ${ticket.id}.`;
    case 'request-changes':
      return `The ticket goes back to its agent: attempt ${ticket.attempt + 1} starts in the same workspace with your feedback.`;
    case 'close':
      return 'Closing ends the ticket: nothing is committed, its sandbox stops and its workspace is deleted after the retention time.';
  }
}

function ResultNote(props: { action: Action; ticket: Ticket }) {
  const { ticket } = props;
  return (
    <div class="card review-result" role="status">
      {props.action === 'approve' ? (
        <p>
          Approved: branch <code>{ticket.branch ?? '(not recorded)'}</code>
          {ticket.commit ? (
            <>
              {' '}
              at <code>{ticket.commit.slice(0, 12)}</code>
            </>
          ) : null}{' '}
          — fetch it with <code>mags ticket apply {ticket.id}</code>
        </p>
      ) : props.action === 'request-changes' ? (
        <p>
          Changes requested: attempt {ticket.attempt} is {ticket.status.replaceAll('_', ' ')}.
        </p>
      ) : (
        <p>Closed.</p>
      )}
    </div>
  );
}
