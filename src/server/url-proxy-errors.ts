import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { MagsError, RateLimitError } from '../errors/mags-error.ts';
import type { UrlAccess } from '../urls/url-access.ts';

/** Nothing listening (or accepting): the 502 says which port of which sandbox, and what to do. */
export function portError(error: unknown, access: UrlAccess): unknown {
  if (!(error instanceof MagsError)) return error;
  const { sandbox, port } = access.record;
  if (error.code === 'port_not_listening') {
    return new MagsError(`Nothing listens on port ${port} in the sandbox ${sandbox}.`, {
      code: 'port_not_listening',
      statusCode: 502,
      hint: `Start a server there that listens on port ${port} (on 0.0.0.0, 127.0.0.1 or ::) and keeps running after the exec, e.g. mags exec ${sandbox} 'setsid node server.js > server.log 2>&1 &'.`,
    });
  }
  if (error.code === 'port_not_accepting') {
    return new MagsError(
      `The server on port ${port} in the sandbox ${sandbox} does not accept connections.`,
      {
        code: 'port_not_accepting',
        statusCode: 502,
        hint: `It listens but did not accept within 5 seconds: it is busy or stuck. Look at it with mags exec ${sandbox} ...`,
      },
    );
  }
  return error;
}

/** More upgrades to one sandbox than the proxy holds at once: a 503 the client may retry. */
export function tooManyUpgrades(sandbox: string, most: number): MagsError {
  return new RateLimitError(
    `The sandbox ${sandbox} already has ${most} WebSocket connections through its URLs, the most it may.`,
    {
      code: 'url_upgrades_full',
      statusCode: 503,
      retryAfterSeconds: 5,
      hint: 'Close WebSocket connections to the sandbox that are no longer used, then try again.',
    },
  );
}

interface ErrorAnswer {
  status: number;
  text: string;
  retryAfterSeconds: number | undefined;
}

function answerOf(error: unknown): ErrorAnswer {
  if (error instanceof MagsError) {
    return {
      status: error.statusCode ?? 500,
      text: error.hint ? `${error.message}\n${error.hint}\n` : `${error.message}\n`,
      retryAfterSeconds: error instanceof RateLimitError ? error.retryAfterSeconds : undefined,
    };
  }
  return {
    status: 502,
    text: `The sandbox URL failed: ${(error as Error).message}\n`,
    retryAfterSeconds: undefined,
  };
}

/** The proxy's own answer to a refused or failed request: text, or a small page for a browser. */
export function sendError(
  response: ServerResponse,
  request: IncomingMessage,
  error: unknown,
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const { status, text, retryAfterSeconds } = answerOf(error);
  const html = /\btext\/html\b/.test(request.headers.accept ?? '');
  const body = html
    ? `<!doctype html><title>${status}</title><pre>${escapeHtml(text)}</pre>\n`
    : text;
  response.writeHead(status, {
    'Content-Type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...(status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}),
    ...(retryAfterSeconds !== undefined ? { 'Retry-After': String(retryAfterSeconds) } : {}),
  });
  response.end(body);
}

/** The same, written on the socket of an upgrade request (no ServerResponse there). */
export function writeRawError(socket: Duplex, error: unknown): void {
  const { status, text, retryAfterSeconds } = answerOf(error);
  const retry = retryAfterSeconds !== undefined ? `Retry-After: ${retryAfterSeconds}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${status} ${status === 502 ? 'Bad Gateway' : 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${retry}Connection: close\r\n\r\n${text}`,
  );
}

/** A redirect written on the socket of an upgrade request. */
export function writeRawRedirect(socket: Duplex, status: number, location: string): void {
  socket.end(
    `HTTP/1.1 ${status} Redirect\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (character) => `&#${character.charCodeAt(0)};`);
}
