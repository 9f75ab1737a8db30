import type { ComponentChildren } from 'preact';
import { type DashboardSection, dashboardSections } from '../../api/dashboard-pages.ts';
import { Link } from './link.tsx';
import { ThemeToggle } from './theme-toggle.tsx';

/** Header with the sections, the owner and sign-out; the page below. */
export function Layout(props: {
  owner: string;
  section: DashboardSection | undefined;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top-bar">
        <Link href="/tickets" class="brand">
          mags
        </Link>
        <nav aria-label="Sections" class="sections">
          {dashboardSections.map((section) => (
            <Link
              key={section.id}
              href={section.href}
              aria-current={props.section === section.id ? 'page' : undefined}
            >
              {section.title}
            </Link>
          ))}
        </nav>
        <div class="account">
          <span class="owner" title="The owner of this token: you see only its data">
            {props.owner}
          </span>
          <ThemeToggle />
          <button type="button" class="quiet" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}
