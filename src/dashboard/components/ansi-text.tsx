import { useMemo } from 'preact/hooks';
import { type AnsiSpan, ansiSpans } from './ansi-spans.ts';

/**
 * Terminal output as text with its ANSI colours (SGR) rendered as styled spans; every other
 * escape (cursor moves, OSC 8 links, titles) is dropped (ansi-spans.ts says why it is our own
 * parser). Never HTML: each piece is a text node whatever it holds; palette colours are classes
 * (themed variables in styles.css), other colours CSSOM style objects, allowed by the CSP.
 */
export function AnsiText(props: { text: string; class?: string; 'data-event-id'?: number }) {
  const spans = useMemo(() => ansiSpans(props.text), [props.text]);
  return <AnsiSpansText spans={spans} class={props.class} data-event-id={props['data-event-id']} />;
}

/**
 * Spans parsed already: output that grows (a job's log, a model's text deltas) is parsed chunk
 * by chunk as it arrives (`AnsiParser`), each chunk once, and shown with this.
 */
export function AnsiSpansText(props: {
  spans: AnsiSpan[];
  class?: string;
  'data-event-id'?: number;
}) {
  return (
    <span class={props.class} data-event-id={props['data-event-id']}>
      {props.spans.map((span, index) =>
        span.classes === '' && !span.style ? (
          span.text
        ) : (
          <span key={index} class={span.classes || undefined} style={span.style}>
            {span.text}
          </span>
        ),
      )}
    </span>
  );
}
