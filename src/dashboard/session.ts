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

export function signOut(): void {
  sessionStorage.removeItem(tokenKey);
  // A full reload: no page, cache or open stream of the previous owner survives.
  location.replace('/sign-in');
}

/** A client of this server's public API (the page's own origin) with `token`. */
export function clientFor(token: string): Mags {
  return new Mags({ url: location.origin, token });
}
