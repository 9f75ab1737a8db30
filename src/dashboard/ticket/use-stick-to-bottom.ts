import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';

/** How close to the end of the page still counts as "at the bottom", in CSS pixels. */
const slackPx = 48;

const atBottom = () =>
  window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - slackPx;

/**
 * Keeps the page scrolled to its end as `content` grows, while the reader is there: one who
 * scrolled up to read stays where they are until they scroll back down.
 */
export function useStickToBottom(content: unknown): void {
  const following = useRef(true);
  useEffect(() => {
    const onScroll = () => {
      following.current = atBottom();
    };
    addEventListener('scroll', onScroll, { passive: true });
    return () => removeEventListener('scroll', onScroll);
  }, []);
  useLayoutEffect(() => {
    if (following.current && !atBottom()) {
      window.scrollTo({ top: document.documentElement.scrollHeight });
    }
  }, [content]);
}
