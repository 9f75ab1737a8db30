import { signInPath } from '../api/dashboard-pages.ts';
import { Mags } from '../sdk/mags.ts';

/**
 * The signed-in token lives in this tab's session storage only: never in a URL, a cookie or
 * local storage; closing the tab forgets it. Everything the dashboard shows comes from the API
 * with it, and nothing is kept across sign-ins (sign-out reloads the page, dropping all state).
 */
const tokenKey = 'mags.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(tokenKey);
}

export function rememberToken(token: string): void {
  sessionStorage.setItem(tokenKey, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(tokenKey);
}

export function signOut(options: { expired?: boolean } = {}): void {
  forgetToken();
  // A full reload: no page, cache or open stream of the previous owner survives.
  location.replace(options.expired ? `${signInPath}?expired` : signInPath);
}

/** Whether the last sign-out was the server refusing the token (revoked while signed in). */
export const sessionExpired = () => new URLSearchParams(location.search).has('expired');

/**
 * A client of this server's public API (the page's own origin) with `token`. Once signed in, a
 * 401 from any call means the token was revoked: the session ends there, not page by page.
 */
export function clientFor(token: string, options: { signedIn: () => boolean }): Mags {
  return new Mags({
    url: location.origin,
    token,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (response.status === 401 && options.signedIn()) signOut({ expired: true });
      return response;
    },
  });
}
