import { randomBytes } from 'node:crypto';

/** A fresh nonce per page load: the only inline-capable grant in the policy (see below). */
export const newStyleNonce = () => randomBytes(18).toString('base64');

/**
 * The dashboard's Content-Security-Policy: scripts, stylesheets, images and connections only from
 * this server, no inline script, no frames, no plugins, no forms posting elsewhere. `<style>`
 * elements apply only with this response's nonce: the terminal (xterm.js) writes its theme into
 * `<style>` elements it creates, and the dashboard gives those the nonce (style-nonce.ts); an
 * injected `<style>` (selectors: the way CSS reads a page's text out) never applies.
 * Style *attributes* are allowed, for colours and positions computed at run time: the
 * terminal's renderer colours a cell it draws in 24-bit colour (or lifts to readable contrast),
 * AnsiText colours 256-colour and truecolour spans, and the plan graph places its boxes and
 * sizes its canvas. An attribute can only style its own element, and with images and fonts
 * limited to 'self' it can load nothing from elsewhere; no script ever runs from the page's
 * text. `'self'` covers the shell's same-origin WebSocket (CSP 3).
 */
export function contentSecurityPolicy(styleNonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${styleNonce}'`,
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** What every dashboard response carries besides its policy. */
export const dashboardSecurityHeaders: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
