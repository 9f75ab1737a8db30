import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';

/** How close to the end of the page still counts as "at the bottom", in CSS pixels. */
const slackPx = 48;

const atBottom = () =>
  window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - slackPx;

/**
 * Keeps the page scrolled to its end as `content` grows, while the ticket is `live` (queued or
 * running) and the reader is there: one who scrolled up to read stays where they are until they
 * scroll back down. A finished ticket opens at its top (its request, its criteria), not its end.
 */
export function useStickToBottom(content: unknown, live: boolean): void {
  const following = useRef(true);
  useEffect(() => {
    const onScroll = () => {
      following.current = atBottom();
    };
    addEventListener('scroll', onScroll, { passive: true });
    return () => removeEventListener('scroll', onScroll);
  }, []);
  useLayoutEffect(() => {
    if (live && following.current && !atBottom()) {
      window.scrollTo({ top: document.documentElement.scrollHeight });
    }
  }, [content, live]);
}
