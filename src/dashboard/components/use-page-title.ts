import { useEffect } from 'preact/hooks';

/** The tab's title for this page (`Ticket tkt_x · mags`): history, tabs and screen readers. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · mags`;
  }, [title]);
}
