import { useState } from 'preact/hooks';
import type { TicketEvent } from '../../api/tickets.ts';
import type { Mags } from '../../sdk/mags.ts';
import { ErrorView } from '../components/error-view.tsx';

/** A comment to the agent: a running one reads it at its next step, a later attempt at its start. */
export function CommentBox(props: {
  mags: Mags;
  ticketId: string;
  running: boolean;
  onPosted: (event: TicketEvent) => void;
}) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return (
    <form
      class="comment-box card"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(undefined);
        try {
          props.onPosted(await props.mags.tickets.comment(props.ticketId, text.trim()));
          setText('');
        } catch (caught) {
          setError(caught);
        } finally {
          setBusy(false);
        }
      }}
    >
      <label for="ticket-comment">Comment to the agent</label>
      <textarea
        id="ticket-comment"
        value={text}
        placeholder={
          props.running
            ? 'The agent reads it at its next step'
            : 'The next attempt reads it when it starts'
        }
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          // Ctrl/⌘+Enter sends, as in most comment boxes.
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.currentTarget.form?.requestSubmit();
          }
        }}
      />
      <div class="toolbar">
        <button type="submit" disabled={busy || text.trim() === ''}>
          {busy ? 'Sending…' : 'Send comment'}
        </button>
      </div>
      {error ? <ErrorView error={error} title="Not sent" /> : null}
    </form>
  );
}
