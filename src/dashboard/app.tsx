import type { FunctionComponent } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type DashboardSection, signInPath } from '../api/dashboard-pages.ts';
import { type Signed, SignedContext } from './client-context.ts';
import { ErrorBoundary } from './components/error-boundary.tsx';
import { ErrorView } from './components/error-view.tsx';
import { Layout } from './components/layout.tsx';
import { usePageTitle } from './components/use-page-title.ts';
import { SignIn } from './pages/sign-in.tsx';
import { navigate, useLocation } from './router.ts';
import { matchRoute, type PageProps } from './routes.ts';
import {
  clientFor,
  forgetToken,
  rememberToken,
  sessionExpired,
  signOut,
  storedToken,
} from './session.ts';

type SessionState =
  | { state: 'checking' }
  | { state: 'signed-out'; error?: unknown }
  | { state: 'signed-in'; signed: Signed };

/** The whole app: the sign-in gate, then the layout around the current route's page. */
export function App() {
  const [session, setSession] = useState<SessionState>(() =>
    storedToken() ? { state: 'checking' } : { state: 'signed-out' },
  );

  const check = async (token: string) => {
    let signedIn = false;
    const mags = clientFor(token, { signedIn: () => signedIn });
    try {
      const { owner } = await mags.whoami();
      signedIn = true;
      rememberToken(token);
      setSession({ state: 'signed-in', signed: { mags, token, owner } });
    } catch (error) {
      forgetToken();
      setSession({ state: 'signed-out', error });
    }
  };

  useEffect(() => {
    const token = storedToken();
    if (!token) return;
    // The page's chunk loads while the token is checked, not after: one round trip fewer.
    matchRoute(location.pathname)
      ?.route.load()
      .catch(() => {}); // shown by the page itself when it is loaded again
    void check(token);
  }, []);

  if (session.state === 'checking') return <p class="loading">Signing in…</p>;
  if (session.state === 'signed-out') {
    return (
      <SignIn
        error={session.error}
        notice={
          sessionExpired()
            ? 'The session ended: the server no longer accepts that token (revoked?).'
            : undefined
        }
        onToken={(token) => check(token)}
      />
    );
  }
  return (
    <SignedContext.Provider value={session.signed}>
      <Routed owner={session.signed.owner} />
    </SignedContext.Provider>
  );
}

function Routed({ owner }: { owner: string }) {
  const path = useLocation();
  const pathname = path.split('?')[0] ?? '';
  const matched = matchRoute(path);
  useEffect(() => {
    if (path === '/' || path.startsWith(signInPath)) navigate('/tickets', { replace: true });
  }, [path]);
  useFocusOnNavigation(pathname);
  const page = usePage(matched?.route.load);
  const section: DashboardSection | undefined = matched?.route.section;
  return (
    <Layout owner={owner} section={section} onSignOut={signOut}>
      {!matched ? (
        path === '/' || path.startsWith(signInPath) ? null : (
          <NoPage path={path} />
        )
      ) : page.error ? (
        <ErrorView error={page.error} />
      ) : page.component ? (
        <ErrorBoundary key={pathname}>
          <page.component key={pathname} params={matched.params} />
        </ErrorBoundary>
      ) : (
        <p class="loading">Loading…</p>
      )}
    </Layout>
  );
}

function NoPage(props: { path: string }) {
  usePageTitle('No such page');
  return <ErrorView error={new Error(`No page at ${props.path}.`)} />;
}

/**
 * After an in-app navigation to another page (not a query change, not the first load) focus
 * moves to the page's content, as a page load would: keyboard and screen-reader users start on
 * the new page instead of on the link they left behind in the header.
 */
function useFocusOnNavigation(pathname: string) {
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('main')?.focus({ preventScroll: true });
    scrollTo(0, 0);
  }, [pathname]);
}

/** The page module behind a route, loaded on first visit (each page is its own chunk). */
function usePage(load: (() => Promise<{ default: FunctionComponent<PageProps> }>) | undefined) {
  const [page, setPage] = useState<{
    load?: typeof load;
    component?: FunctionComponent<PageProps>;
    error?: unknown;
  }>({});
  useEffect(() => {
    if (!load) return;
    let current = true;
    load().then(
      (module) => current && setPage({ load, component: module.default }),
      (error: unknown) => current && setPage({ load, error }),
    );
    return () => {
      current = false;
    };
  }, [load]);
  return page.load === load ? page : {};
}
