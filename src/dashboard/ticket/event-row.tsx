import { Component } from 'preact';
import type { TicketEvent, TicketEventData } from '../../api/tickets.ts';
import { AnsiSpansText, AnsiText } from '../components/ansi-text.tsx';
import { DiffView } from '../components/diff-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { formatBytes } from '../format/format-bytes.ts';
import { formatCostUsd } from '../format/format-cost-usd.ts';
import { formatDurationMs } from '../format/format-duration-ms.ts';
import { formatTokens } from '../format/format-tokens.ts';
import { RowPages } from './row-pages.tsx';
import type { TextPart, TimelineItem } from './ticket-timeline.ts';

interface RowProps {
  item: TimelineItem;
  /** A text block's version: it grew in place. */
  version: number;
  ticketId: string;
  criteria: string[];
}

// Model text may hold escapes too (an echo of output): dropped like a command's. Each delta was
// parsed once as it came, carrying the escapes of the one before.
const renderPart = (part: TextPart) => (
  <AnsiSpansText key={part.id} data-event-id={part.id} spans={part.spans} />
);

/**
 * One row of the ticket's events. Rendered again only when its item changed (a text block that
 * grew, by its version): a long stream renders each new event once, not the whole list per
 * event, and a long text block only its last page of deltas.
 */
export class EventRow extends Component<RowProps> {
  override shouldComponentUpdate(next: RowProps): boolean {
    return (
      next.item !== this.props.item ||
      next.version !== this.props.version ||
      next.criteria !== this.props.criteria
    );
  }

  override render() {
    const { item } = this.props;
    if (item.kind === 'text') {
      return (
        <li class="event event-text">
          <RowPages rows={item.parts} version={item.version} render={renderPart} />
        </li>
      );
    }
    const { event } = item;
    return (
      <li class={`event event-${event.data.type}`} data-event-id={event.id}>
        <EventBody event={event} ticketId={this.props.ticketId} criteria={this.props.criteria} />
      </li>
    );
  }
}

/** A command's output is shown open when it failed or is short; long ones are a click away. */
const openLines = 12;

function EventBody(props: { event: TicketEvent; ticketId: string; criteria: string[] }) {
  const data: TicketEventData = props.event.data;
  switch (data.type) {
    case 'status':
      return (
        <p class="event-line">
          <span class="event-label">Status</span>
          {data.from ? <StatusBadge status={data.from} /> : null}
          {data.from ? <span aria-hidden="true"> → </span> : null}
          <StatusBadge status={data.to} />
          {data.reason ? <span class="muted"> {data.reason}</span> : null}
        </p>
      );
    case 'tool_call':
      return (
        <p class="event-line">
          <span class="event-label">Tool</span>
          <code>{data.tool}</code> <code class="tool-input">{describeInput(data.input)}</code>
        </p>
      );
    case 'tool_result':
      return (
        <details>
          <summary>
            <span class="event-label">Result</span> <code>{data.tool}</code>
            {data.isError ? <span class="exit-bad"> error</span> : null}
          </summary>
          <pre class="output-box">
            <AnsiText text={data.output} />
          </pre>
        </details>
      );
    case 'command': {
      const failed = data.timedOut || (data.exitCode !== null && data.exitCode !== 0);
      const short = data.output.split('\n').length <= openLines;
      const cut = data.outputBytes > new TextEncoder().encode(data.output).length;
      return (
        <details open={failed || short}>
          <summary>
            <span class="event-label">{data.source === 'agent' ? 'Command' : data.source}</span>
            <code class="command-line">$ {data.command}</code>{' '}
            <span class={failed ? 'exit-bad' : 'exit-ok'}>
              {data.timedOut ? 'timed out' : `exit ${data.exitCode ?? '?'}`}
            </span>{' '}
            <span class="muted">{formatDurationMs(data.durationMs)}</span>
          </summary>
          {data.output === '' ? (
            <p class="muted">No output.</p>
          ) : (
            <pre class="output-box">
              <AnsiText text={data.output} />
            </pre>
          )}
          {cut ? <p class="muted">Output cut: {formatBytes(data.outputBytes)} in all.</p> : null}
        </details>
      );
    }
    case 'file_change':
      return (
        <details open>
          <summary>
            <span class="event-label">File</span> <code>{data.path}</code>{' '}
            <span class="muted">{data.change}</span>
          </summary>
          {data.diff ? <DiffView diff={data.diff} /> : <p class="muted">No diff.</p>}
        </details>
      );
    case 'usage':
      return (
        <p class="event-line muted">
          <span class="event-label">Step {data.step}</span>
          {data.model} · {formatTokens(data.inputTokens)} in · {formatTokens(data.outputTokens)} out
          · {formatCostUsd(data.costUsd)}
        </p>
      );
    case 'comment':
      return (
        <div class="event-comment">
          <span class="event-label">Comment</span> <strong>{data.author}</strong>
          <p class="prose">{data.text}</p>
        </div>
      );
    case 'finish':
      return (
        <div>
          <span class="event-label">Finished</span>
          <p class="prose">{data.summary}</p>
          {data.claims.length > 0 ? (
            <ul class="claims">
              {data.claims.map((claim) => (
                <li key={claim.criterion}>
                  The agent says{' '}
                  <q>{props.criteria[claim.criterion] ?? `criterion ${claim.criterion + 1}`}</q> is{' '}
                  {claim.met ? 'met' : 'not met'}
                  {claim.note ? <span class="muted"> ({claim.note})</span> : null}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      );
    case 'retry':
      return (
        <p class="event-line warn">
          <span class="event-label">Retry</span> {data.message} (try {data.attempt}, in{' '}
          {formatDurationMs(data.delayMs)})
        </p>
      );
    case 'check':
      return (
        <p class="event-line">
          <span class="event-label">Check</span>
          <StatusBadge status={data.status} />{' '}
          {props.criteria[data.criterion] ?? `criterion ${data.criterion + 1}`}
          {data.exitCode !== null ? <span class="muted"> (exit {data.exitCode})</span> : null}
        </p>
      );
    case 'evidence':
      return (
        <p class="event-line">
          <span class="event-label">Evidence</span> {data.summary}{' '}
          <Link href={`/tickets/${encodeURIComponent(props.ticketId)}/evidence`}>
            Review the evidence
          </Link>
        </p>
      );
    case 'notice':
      return (
        <p class="event-line">
          <span class="event-label">Notice</span> {data.message}
        </p>
      );
    default:
      return <p class="event-line muted">{(data as { type: string }).type}</p>;
  }
}

/** A tool's input in one line: its command or path when it has one, else compact JSON. */
function describeInput(input: unknown): string {
  if (input && typeof input === 'object') {
    const record = input as Record<string, unknown>;
    for (const key of ['command', 'path', 'pattern', 'summary']) {
      if (typeof record[key] === 'string') return record[key] as string;
    }
  }
  const json = JSON.stringify(input) ?? '';
  return json.length > 300 ? `${json.slice(0, 300)}…` : json;
}
