/**
 * The web dashboard's sections, shared by the dashboard (its menu and routes) and the server
 * (which answers each page's path with index.html): one list, so a new page cannot be missing
 * from either. Zod-free: the dashboard imports it at runtime.
 */
export const dashboardSections = [
  { id: 'tickets', title: 'Tickets', href: '/tickets', itemPages: true },
  { id: 'plans', title: 'Plans', href: '/plans', itemPages: true },
  { id: 'sandboxes', title: 'Sandboxes', href: '/sandboxes', itemPages: true },
  { id: 'jobs', title: 'Jobs', href: '/jobs', itemPages: true },
  { id: 'workspaces', title: 'Workspaces', href: '/workspaces', itemPages: true },
  { id: 'system', title: 'System', href: '/system', itemPages: false },
] as const;

export type DashboardSection = (typeof dashboardSections)[number]['id'];

/** Where the dashboard signs in (its one page outside the sections). */
export const signInPath = '/sign-in';

/**
 * Every path the dashboard's router shows a page for, as server route patterns: `/`, the
 * sign-in page, each section's list and (`/tickets/*`) the pages of its items.
 */
export const dashboardPagePaths: readonly string[] = [
  '/',
  signInPath,
  ...dashboardSections.flatMap((section) =>
    section.itemPages ? [section.href, `${section.href}/*`] : [section.href],
  ),
];
