import { randomBytes } from 'node:crypto';

/** A fresh nonce per page load: the only inline-capable grant in the policy (see below). */
export const newStyleNonce = () => randomBytes(18).toString('base64');

/**
 * The dashboard's Content-Security-Policy: scripts, styles, images and connections only from this
 * server, nothing inline, no frames, no plugins, no forms posting elsewhere. Styles also accept
 * `<style>` elements carrying this response's nonce, because the terminal (xterm.js) writes its
 * theme into `<style>` elements it creates; the dashboard gives those elements the nonce. An
 * injected `<style>` or `style="..."` attribute still does not apply, and no script ever runs
 * from the page's text. `'self'` covers the shell's same-origin WebSocket (CSP 3).
 */
export function contentSecurityPolicy(styleNonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${styleNonce}'`,
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
