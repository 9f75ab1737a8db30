import { useEffect, useState } from 'preact/hooks';

/** The phone breakpoint of styles.css: side by side does not fit below it. */
const narrowQuery = '(max-width: 640px)';

/** Whether the window is phone-narrow, kept current by the media query's change event. */
export function useNarrowScreen(): boolean {
  const [narrow, setNarrow] = useState(() => matchMedia(narrowQuery).matches);
  useEffect(() => {
    const query = matchMedia(narrowQuery);
    const listener = () => setNarrow(query.matches);
    query.addEventListener('change', listener);
    listener();
    return () => query.removeEventListener('change', listener);
  }, []);
  return narrow;
}
