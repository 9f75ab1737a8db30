/**
 * The page's Content-Security-Policy accepts a `<style>` element only with this load's nonce
 * (src/server/dashboard/dashboard-headers.ts). The terminal (xterm.js) creates `<style>`
 * elements for its theme without one; this gives every `<style>` the page's own scripts create
 * the nonce the server put on our `<script>` tag. Markup injected as HTML never gets it.
 */
export function giveStylesTheNonce(): void {
  const nonce = document.querySelector<HTMLScriptElement>('script[nonce]')?.nonce;
  if (!nonce) return;
  const createElement = document.createElement.bind(document);
  document.createElement = ((tagName: string, options?: ElementCreationOptions) => {
    const element = createElement(tagName, options);
    if (element instanceof HTMLStyleElement) element.nonce = nonce;
    return element;
  }) as typeof document.createElement;
}
