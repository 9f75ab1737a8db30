import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { sendError } from '../url-proxy-errors.ts';
import { HostUnavailableError } from './forward-errors.ts';
import { forwardedByHeader, type HostTarget } from './host-forwarder.ts';

/** Headers of one hop only (RFC 9110 §7.6.1): this server frames its own hop. */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface HostRequest {
  method: string;
  /** Path and query, as the client sent them. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Streamed as it comes (archives are GiBs); undefined: no body. */
  body?: Readable;
}

/**
 * How long a forwarded exchange may wait, and when it ends early. A frozen host (SIGSTOP, a VM
 * paused) still completes TCP handshakes through the kernel's backlog, so a connect timeout alone
 * would let a request wait on it forever.
 */
export interface ForwardTiming {
  /** A connection not made within this is a HostUnavailableError. */
  connectTimeoutMs: number;
  /**
   * The host's answer's headers must arrive within this once the request's body was sent (an
   * upload's time is the client's; a long answer streams after its headers, uncounted).
   */
  responseTimeoutMs?: number;
  /**
   * Why the host can no longer answer (gone, silent past its timeout), else undefined: asked every
   * `checkMs` for as long as the exchange lasts, so a stream from a host that froze ends too.
   */
  unavailable?: () => Promise<string | undefined>;
  checkMs?: number;
  /** Aborted when the client has left: the request to the host is destroyed with it. */
  signal?: AbortSignal;
}

/**
 * Sends `request` to the host `target` as the client sent it (method, path, query, headers: the
 * owner's Authorization stays, tokens are shared state; Host stays too, so the URLs the host
 * answers with name the server the client used), plus the forwarded-by header naming `from`.
 * Resolves with the host's answer, its body unread; a connection refused, failed or not made
 * within the connect timeout, no answer within the response timeout, or a host found unavailable
 * meanwhile, is a HostUnavailableError. `timing` a number: the connect timeout only.
 */
export function requestHost(
  target: HostTarget,
  from: string,
  request: HostRequest,
  timing: number | ForwardTiming,
): Promise<IncomingMessage> {
  const { connectTimeoutMs, responseTimeoutMs, unavailable, checkMs, signal } =
    typeof timing === 'number' ? ({ connectTimeoutMs: timing } as ForwardTiming) : timing;
  const address = new URL(target.address);
  const send = address.protocol === 'https:' ? httpsRequest : httpRequest;
  const upstream = send({
    protocol: address.protocol,
    hostname: address.hostname.replace(/^\[|\]$/g, ''),
    port: address.port || undefined,
    method: request.method,
    path: `${address.pathname.replace(/\/$/, '')}${request.path}`,
    headers: hostHeaders(request.headers, from),
  });
  let responseTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  let ended = false;
  const stopTimers = () => {
    ended = true;
    clearTimeout(responseTimer);
    clearTimeout(checkTimer);
  };
  upstream.once('close', stopTimers);
  if (signal) {
    const leave = () => upstream.destroy(new ClientLeft());
    if (signal.aborted) leave();
    else signal.addEventListener('abort', leave, { once: true });
    upstream.once('close', () => signal.removeEventListener('abort', leave));
  }
  if (responseTimeoutMs !== undefined) {
    upstream.once('finish', () => {
      if (upstream.destroyed || ended) return;
      responseTimer = setTimeout(() => {
        upstream.destroy(new ResponseTimeout(responseTimeoutMs));
      }, responseTimeoutMs);
      upstream.once('response', () => clearTimeout(responseTimer));
    });
  }
  if (unavailable) {
    // Each check waits for the one before (a slow state read never piles up checks).
    const check = () => {
      checkTimer = setTimeout(async () => {
        const reason = await unavailable().catch(() => undefined); // unread: no verdict
        if (ended) return;
        if (reason) upstream.destroy(new HostUnavailableError(target.host, reason));
        else check();
      }, checkMs ?? 2_000);
    };
    check();
  }
  return new Promise<IncomingMessage>((resolve, reject) => {
    let connected = false;
    upstream.once('socket', (socket: Socket) => {
      if (!socket.connecting) {
        connected = true; // a kept-alive connection
        return;
      }
      const timer = setTimeout(() => {
        upstream.destroy(new ConnectTimeout(connectTimeoutMs));
      }, connectTimeoutMs);
      socket.once('connect', () => {
        connected = true;
        clearTimeout(timer);
      });
      socket.once('close', () => clearTimeout(timer));
    });
    upstream.once('response', (answer) => {
      // The checks last as long as the answer streams: its end (or its loss) ends them.
      answer.once('close', stopTimers);
      resolve(answer);
    });
    upstream.once('error', (error) => {
      request.body?.destroy();
      reject(
        error instanceof HostUnavailableError
          ? error
          : connected && !(error instanceof ResponseTimeout)
            ? error
            : unreachable(target, error),
      );
    });
    if (request.body) {
      request.body.once('error', (error) => upstream.destroy(error));
      request.body.pipe(upstream);
    } else {
      upstream.end();
    }
  });
}

/**
 * The URL proxy's request for a sandbox on another host, passed on whole and answered with the
 * host's answer as it streams (the host's own URL proxy checks it again and reaches the port).
 */
export async function pipeRequestToHost(
  target: HostTarget,
  from: string,
  request: IncomingMessage,
  response: ServerResponse,
  timing: number | ForwardTiming,
): Promise<void> {
  // From the moment it is sent: a client that leaves before the host answers ends it too.
  const left = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) left.abort();
  });
  try {
    const answer = await requestHost(
      target,
      from,
      {
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers: request.headers,
        body: request,
      },
      typeof timing === 'number'
        ? { connectTimeoutMs: timing, signal: left.signal }
        : { ...timing, signal: left.signal },
    );
    if (left.signal.aborted) {
      answer.destroy();
      return;
    }
    response.once('close', () => {
      if (!response.writableFinished) answer.destroy();
    });
    response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answerHeaders(answer));
    response.flushHeaders();
    answer.pipe(response);
    answer.once('error', () => response.destroy());
  } catch (error) {
    if (!left.signal.aborted) sendError(response, request, error);
  }
}

/** A byte stream to the host `target` (for an upgrade), connected within `connectTimeoutMs`. */
export function connectToHost(target: HostTarget, connectTimeoutMs: number): Promise<Duplex> {
  const address = new URL(target.address);
  const secure = address.protocol === 'https:';
  const host = address.hostname.replace(/^\[|\]$/g, '');
  const port = Number(address.port || (secure ? 443 : 80));
  return new Promise<Duplex>((resolve, reject) => {
    const socket = secure
      ? tlsConnect({ host, port, servername: host })
      : netConnect({ host, port });
    const timer = setTimeout(
      () => socket.destroy(new ConnectTimeout(connectTimeoutMs)),
      connectTimeoutMs,
    );
    const failed = (error: Error) => {
      clearTimeout(timer);
      reject(unreachable(target, error));
    };
    socket.once('error', failed);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', failed);
      resolve(socket);
    });
  });
}

/** The client's headers for the host: less this hop's, plus who forwarded it. */
export function hostHeaders(headers: IncomingHttpHeaders, from: string): OutgoingHttpHeaders {
  const sent: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || hopByHop.has(name) || name === forwardedByHeader) continue;
    sent[name] = value;
  }
  // A body without a length is sent chunked again (Node would write a GET's body unframed).
  if (headers['transfer-encoding'] !== undefined && headers['content-length'] === undefined) {
    sent['transfer-encoding'] = 'chunked';
  }
  sent[forwardedByHeader] = from;
  return sent;
}

/** The host's answer's headers, less those of its hop (this server frames its own answer). */
export function answerHeaders(answer: IncomingMessage): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (!hopByHop.has(name)) headers[name] = value;
  }
  return headers;
}

class ConnectTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`it did not accept a connection within ${timeoutMs} ms`);
  }
}

class ResponseTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`it did not answer within ${timeoutMs / 1000} s of the request`);
  }
}

/** The client went away before the host answered: nothing is waiting for the answer. */
class ClientLeft extends Error {
  constructor() {
    super('the client closed its connection');
  }
}

/** Why the host could not be reached, in words an owner may read (its address is not one). */
function unreachable(target: HostTarget, error: Error): HostUnavailableError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    error instanceof ConnectTimeout || error instanceof ResponseTimeout
      ? error.message
      : code === 'ECONNREFUSED'
        ? 'it refused the connection (its server is not running)'
        : `the connection to it failed (${code ?? 'no answer'})`;
  return new HostUnavailableError(target.host, reason, { cause: error });
}
