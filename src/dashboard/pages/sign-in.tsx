import { useState } from 'preact/hooks';
import { ErrorView } from '../components/error-view.tsx';
import { usePageTitle } from '../components/use-page-title.ts';

/**
 * Sign-in with an API token (`mags dashboard` prints a local one; `mags token create --owner NAME`
 * makes one on a shared server). Its own help comes before a refusal's, which is the API's (it
 * speaks of headers). The form never submits to a URL:
 * the token goes to the API in an Authorization header and into this tab's session storage.
 */
export function SignIn(props: {
  error?: unknown;
  notice?: string | undefined;
  onToken: (token: string) => Promise<void>;
}) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  usePageTitle('Sign in');
  return (
    <main id="main" class="sign-in">
      <h1>mags</h1>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          await props.onToken(token.trim());
          setBusy(false);
        }}
      >
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="mags_…"
          required
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
        />
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <div class="sign-in-help">
          <p class="hint">
            On your own machine: <code>mags dashboard</code> prints this address and a token to
            paste here.
          </p>
          <p class="hint">
            On a shared server: its operator makes you one with{' '}
            <code>mags token create --owner NAME</code>.
          </p>
          <p class="hint">It is kept in this tab only and sent only in the Authorization header.</p>
        </div>
        {props.notice && !props.error ? (
          <p class="notice" role="status">
            {props.notice}
          </p>
        ) : null}
        {props.error ? <ErrorView error={props.error} title="Not signed in" /> : null}
      </form>
    </main>
  );
}
