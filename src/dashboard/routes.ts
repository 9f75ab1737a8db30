import type { FunctionComponent } from 'preact';
import { type DashboardSection, dashboardSections } from '../api/dashboard-pages.ts';

/** What a page gets: the route's captured path parts, already URI-decoded. */
export interface PageProps {
  params: string[];
}

type PageModule = { default: FunctionComponent<PageProps> };

export interface Route {
  pattern: RegExp;
  /** The navigation section it belongs to (highlighted in the menu). */
  section: DashboardSection;
  /** Each page is its own chunk: a ticket page's first load carries no terminal or diff code. */
  load: () => Promise<PageModule>;
}

/** A section's id to its list's path (`/tickets`), from the list the server shares. */
const sectionPaths = Object.fromEntries(
  dashboardSections.map((section) => [section.id, section.href]),
) as Record<DashboardSection, string>;

/** A page of `section` at its path plus `rest` (`''` for its list, `/${part}` for an item). */
function page(section: DashboardSection, rest: string, load: Route['load']): Route {
  return { pattern: new RegExp(`^${sectionPaths[section]}${rest}$`), section, load };
}

const part = '/([^/?]+)';
export const routes: Route[] = [
  page('tickets', '', () => import('./pages/tickets-board.tsx')),
  page('tickets', `${part}/evidence`, () => import('./pages/evidence-page.tsx')),
  page('tickets', part, () => import('./pages/ticket-page.tsx')),
  page('plans', '', () => import('./pages/plans-page.tsx')),
  page('plans', part, () => import('./pages/plan-page.tsx')),
  page('sandboxes', '', () => import('./pages/sandboxes-page.tsx')),
  page('sandboxes', part, () => import('./pages/sandbox-page.tsx')),
  page('jobs', '', () => import('./pages/jobs-page.tsx')),
  page('jobs', part, () => import('./pages/job-page.tsx')),
  page('workspaces', '', () => import('./pages/workspaces-page.tsx')),
  page('workspaces', part, () => import('./pages/workspace-page.tsx')),
  page('system', '', () => import('./pages/system-page.tsx')),
];

/**
 * The route for a path (query left out) and its decoded parts, or undefined: also for a part
 * that is not valid percent-encoding (`/tickets/%E0%A4`), which is no page rather than a crash.
 */
export function matchRoute(path: string): { route: Route; params: string[] } | undefined {
  const pathname = path.split('?')[0] ?? '';
  for (const route of routes) {
    const match = route.pattern.exec(pathname);
    if (!match) continue;
    try {
      return { route, params: match.slice(1).map((value) => decodeURIComponent(value)) };
    } catch {
      return undefined; // URIError
    }
  }
  return undefined;
}
