import type { FunctionComponent } from 'preact';

/** What a page gets: the route's captured path parts, already URI-decoded. */
export interface PageProps {
  params: string[];
}

type PageModule = { default: FunctionComponent<PageProps> };

export interface Route {
  pattern: RegExp;
  /** The navigation section it belongs to (highlighted in the menu). */
  section: Section;
  /** Each page is its own chunk: a ticket page's first load carries no terminal or diff code. */
  load: () => Promise<PageModule>;
}

export const sections = [
  { id: 'tickets', title: 'Tickets', href: '/tickets' },
  { id: 'plans', title: 'Plans', href: '/plans' },
  { id: 'sandboxes', title: 'Sandboxes', href: '/sandboxes' },
  { id: 'jobs', title: 'Jobs', href: '/jobs' },
  { id: 'workspaces', title: 'Workspaces', href: '/workspaces' },
  { id: 'system', title: 'System', href: '/system' },
] as const;
export type Section = (typeof sections)[number]['id'];

const part = '([^/?]+)';
export const routes: Route[] = [
  { pattern: /^\/tickets$/, section: 'tickets', load: () => import('./pages/tickets-board.tsx') },
  {
    pattern: new RegExp(`^/tickets/${part}/evidence$`),
    section: 'tickets',
    load: () => import('./pages/evidence-page.tsx'),
  },
  {
    pattern: new RegExp(`^/tickets/${part}$`),
    section: 'tickets',
    load: () => import('./pages/ticket-page.tsx'),
  },
  { pattern: /^\/plans$/, section: 'plans', load: () => import('./pages/plans-page.tsx') },
  {
    pattern: new RegExp(`^/plans/${part}$`),
    section: 'plans',
    load: () => import('./pages/plan-page.tsx'),
  },
  {
    pattern: /^\/sandboxes$/,
    section: 'sandboxes',
    load: () => import('./pages/sandboxes-page.tsx'),
  },
  {
    pattern: new RegExp(`^/sandboxes/${part}$`),
    section: 'sandboxes',
    load: () => import('./pages/sandbox-page.tsx'),
  },
  { pattern: /^\/jobs$/, section: 'jobs', load: () => import('./pages/jobs-page.tsx') },
  {
    pattern: new RegExp(`^/jobs/${part}$`),
    section: 'jobs',
    load: () => import('./pages/job-page.tsx'),
  },
  {
    pattern: /^\/workspaces$/,
    section: 'workspaces',
    load: () => import('./pages/workspaces-page.tsx'),
  },
  {
    pattern: new RegExp(`^/workspaces/${part}$`),
    section: 'workspaces',
    load: () => import('./pages/workspace-page.tsx'),
  },
  { pattern: /^\/system$/, section: 'system', load: () => import('./pages/system-page.tsx') },
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
