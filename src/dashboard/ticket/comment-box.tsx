import { useState } from 'preact/hooks';
import type { TicketEvent } from '../../api/tickets.ts';
import type { Mags } from '../../sdk/mags.ts';
import { ErrorView } from '../components/error-view.tsx';
import { useAction } from '../components/use-action.ts';

/** A comment to the agent: a running one reads it at its next step, a later attempt at its start. */
export function CommentBox(props: {
  mags: Mags;
  ticketId: string;
  running: boolean;
  onPosted: (event: TicketEvent) => void;
}) {
  const [text, setText] = useState('');
  const send = useAction();
  return (
    <form
      class="comment-box card"
      onSubmit={(event) => {
        event.preventDefault();
        void send.run(async () => {
          props.onPosted(await props.mags.tickets.comment(props.ticketId, text.trim()));
          setText('');
        });
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
        <button type="submit" disabled={send.busy || text.trim() === ''}>
          {send.busy ? 'Sending…' : 'Send comment'}
        </button>
      </div>
      {send.error ? <ErrorView error={send.error} title="Not sent" /> : null}
    </form>
  );
}
