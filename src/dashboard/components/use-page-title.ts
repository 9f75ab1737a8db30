import { useLayoutEffect } from 'preact/hooks';

/** The tab's title for this page (`Ticket tkt_x · mags`): history, tabs and screen readers. */
export function usePageTitle(title: string): void {
  // In the render's commit, not after the paint: the title never names the page before.
  useLayoutEffect(() => {
    document.title = `${title} · mags`;
  }, [title]);
}
