import { useEffect, useState } from 'preact/hooks';

/** The page's path (and query), kept in step with the History API: pushState and back/forward. */
const listeners = new Set<() => void>();
const notify = () => {
  for (const listener of listeners) listener();
};
addEventListener('popstate', notify);

const currentPath = () => `${location.pathname}${location.search}`;

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === currentPath()) return;
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  notify();
}

export function useLocation(): string {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const listener = () => setPath(currentPath());
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return path;
}

/** The query parameters of the current location (`?project=app`). */
export function useQuery(): URLSearchParams {
  const path = useLocation();
  return new URLSearchParams(path.includes('?') ? path.slice(path.indexOf('?')) : '');
}
