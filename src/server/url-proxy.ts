import {
  Agent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { MagsError } from '../errors/mags-error.ts';
import type { Sandbox } from '../runtimes/runtime.ts';
import type { SandboxUse } from '../sandboxes/sandbox-use.ts';
import type { SandboxUrls } from '../urls/sandbox-urls.ts';
import { decideUrlAccess, type UrlAccess, UrlAccessError } from '../urls/url-access.ts';
import { hostLabelOf, isUrlRequest, parsePathForm } from '../urls/url-addresses.ts';
import type { ServerServices } from './server-env.ts';
import {
  answerHeaders,
  forwardedHeaders,
  linkCookie,
  linksOf,
  withoutLink,
} from './url-forward-headers.ts';

/** A request the proxy will forward: whose sandbox and port, and what the sandbox's server sees. */
interface Target {
  access: UrlAccess;
  use: SandboxUse;
  /** The path and query the sandbox's server gets (the `/u/ID` prefix and the link removed). */
  path: string;
  /** Set-Cookie for a link's first visit, scoped to this URL. */
  cookie: string | undefined;
}

/**
 * The reverse proxy of sandbox URLs (`mags url`): a request to `PORT-NAME-TAG.DOMAIN` (with
 * `mags server --url-domain DOMAIN`) or to `/u/ID/...` is checked (`decideUrlAccess`), wakes the
 * sandbox if it sleeps (held in use while it lasts), and goes to the port inside through the
 * sandbox's agent (`Sandbox.openPort`): HTTP with bodies streamed both ways, and upgrades
 * (WebSocket) as raw bytes once the sandbox's server has answered.
 */
export class UrlProxy {
  readonly #services: ServerServices;
  readonly #urls: SandboxUrls;
  // Keep-alive connections to each sandbox port: one relay in the sandbox serves many requests.
  readonly #agents = new Map<string, PortAgent>();

  constructor(services: ServerServices, urls: SandboxUrls) {
    this.#services = services;
    this.#urls = urls;
  }

  claims(request: IncomingMessage): boolean {
    return isUrlRequest(request.headers.host, request.url ?? '/', this.#urls.domain);
  }

  async handleRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let target: Target | undefined;
    try {
      const bare = this.#bareRedirect(request);
      if (bare) {
        response.writeHead(308, { Location: bare, 'Content-Length': '0' }).end();
        return;
      }
      target = await this.#target(request);
      const { access, use } = target;
      const agent = this.#agentFor(access, use.sandbox);
      const upstream = httpRequest({
        agent,
        method: request.method,
        path: target.path,
        headers: forwardedHeaders(request, access),
      });
      const done = target.use.release;
      response.once('close', () => {
        done();
        if (!response.writableFinished) upstream.destroy();
      });
      upstream.once('response', (answer) => {
        const headers = answerHeaders(answer);
        if (target?.cookie)
          headers['set-cookie'] = [...(headers['set-cookie'] ?? []), target.cookie];
        response.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
        // Each chunk goes out as it comes: a streaming answer reaches the client as it is made.
        response.flushHeaders();
        answer.pipe(response);
        answer.once('error', () => response.destroy());
      });
      upstream.once('error', (error) => {
        if (response.headersSent) response.destroy();
        else sendError(response, request, portError(error, access));
      });
      request.pipe(upstream);
    } catch (error) {
      target?.use.release();
      sendError(response, request, error);
    }
  }

  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let target: Target | undefined;
    let stream: Duplex | undefined;
    try {
      target = await this.#target(request);
      stream = await openPort(target.use.sandbox, target.access);
    } catch (error) {
      target?.use.release();
      writeRawError(socket, error);
      return;
    }
    const release = target.use.release;
    const port = stream;
    socket.once('close', () => {
      release();
      port.destroy();
    });
    port.once('close', () => socket.destroy());
    socket.on('error', () => port.destroy());
    port.on('error', () => socket.destroy());
    // The handshake as the client sent it (less the mags credential), then raw bytes both ways:
    // the sandbox's server answers 101 (or refuses) itself.
    const headers = forwardedHeaders(request, target.access, { upgrade: true });
    const lines = [`${request.method} ${target.path} HTTP/1.1`];
    for (const [name, value] of Object.entries(headers)) {
      for (const one of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${one}`);
    }
    port.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) port.write(head);
    socket.pipe(port);
    port.pipe(socket);
  }

  /** Drops the keep-alive connections (the server is closing). */
  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  #bareRedirect(request: IncomingMessage): string | undefined {
    const path = request.url ?? '/';
    const parsed = parsePathForm(path);
    if (!parsed?.bare) return undefined;
    const query = path.indexOf('?');
    return `/u/${parsed.urlId}/${query >= 0 ? path.slice(query) : ''}`;
  }

  async #target(request: IncomingMessage): Promise<Target> {
    const path = request.url ?? '/';
    const { repository } = this.#services;
    const label = this.#urls.domain
      ? hostLabelOf(request.headers.host, this.#urls.domain)
      : undefined;
    let records: Awaited<ReturnType<typeof repository.findSandboxUrlsByHostLabel>> = [];
    let forwardPath = path;
    let cookiePath = '/';
    if (label) {
      records = await repository.findSandboxUrlsByHostLabel(label);
    } else {
      const parsed = parsePathForm(path);
      if (parsed) {
        const record = await repository.getSandboxUrl(parsed.urlId);
        if (record) records = [record];
        forwardPath = parsed.forwardPath;
        cookiePath = `/u/${parsed.urlId}/`;
      }
    }
    const { fromQuery, links } = linksOf(request, path);
    const access = await decideUrlAccess(
      records,
      { authorization: request.headers.authorization, links },
      {
        repository,
        signer: this.#urls.signer,
        acceptLocalOwner: this.#services.acceptLocalOwner,
      },
    );
    const { record } = access;
    const sandbox = await this.#services.sandboxes.get(record.owner, record.sandbox).catch(() => {
      throw new UrlAccessError(404, 'No such sandbox URL.', 'Its sandbox was deleted.');
    });
    // A sandbox deleted and made again under the same name is another sandbox: none of its URLs.
    if (sandbox.createdAt !== record.sandboxCreatedAt) {
      throw new UrlAccessError(404, 'No such sandbox URL.', 'Its sandbox was deleted.');
    }
    const use = await this.#services.sandboxes.use(record.owner, record.sandbox);
    const cookie =
      access.via === 'link' && fromQuery && access.link
        ? linkCookie(access.link.value, access.link.expiresAtMs, cookiePath)
        : undefined;
    return { access, use, path: withoutLink(forwardPath), cookie };
  }

  #agentFor(access: UrlAccess, sandbox: Sandbox): PortAgent {
    const key = `${access.record.owner}\0${access.record.sandbox}\0${access.record.port}`;
    let agent = this.#agents.get(key);
    // A sandbox started again is a new one: the old one's connections are gone with it.
    if (agent && agent.sandbox !== sandbox) {
      agent.destroy();
      agent = undefined;
    }
    if (!agent) {
      agent = new PortAgent(sandbox, access.record.port);
      this.#agents.set(key, agent);
    }
    return agent;
  }
}

/** An http.Agent whose connections are streams to a sandbox's port through its agent. */
class PortAgent extends Agent {
  readonly sandbox: Sandbox;
  readonly #port: number;

  constructor(sandbox: Sandbox, port: number) {
    // Idle connections end after a while: each holds a relay process in the sandbox.
    super({ keepAlive: true, maxFreeSockets: 8, timeout: 30_000 });
    this.sandbox = sandbox;
    this.#port = port;
  }

  override createConnection(
    _options: unknown,
    callback: (error: Error | null, stream?: Duplex) => void,
  ): undefined {
    openPortOf(this.sandbox, this.#port).then(
      (stream) => callback(null, stream),
      (error: Error) => callback(error),
    );
    return undefined;
  }
}

function openPortOf(sandbox: Sandbox, port: number): Promise<Duplex> {
  if (!sandbox.openPort) {
    throw new MagsError('This sandbox runtime cannot reach ports inside.', {
      code: 'capability_unsupported',
      statusCode: 501,
    });
  }
  return sandbox.openPort(port);
}

function openPort(sandbox: Sandbox, access: UrlAccess): Promise<Duplex> {
  return openPortOf(sandbox, access.record.port).catch((error: unknown) => {
    throw portError(error, access);
  });
}

/** Nothing listening: the 502 says which port of which sandbox, and how to start a server. */
function portError(error: unknown, access: UrlAccess): unknown {
  if (error instanceof MagsError && error.code === 'port_not_listening') {
    const { sandbox, port } = access.record;
    return new UrlAccessError(
      502,
      `Nothing listens on port ${port} in the sandbox ${sandbox}.`,
      `Start a server there that listens on port ${port} (on 0.0.0.0, 127.0.0.1 or ::) and keeps running after the exec, e.g. mags exec ${sandbox} 'setsid node server.js > server.log 2>&1 &'.`,
    );
  }
  return error;
}

function statusOf(error: unknown): { status: number; text: string } {
  if (error instanceof MagsError) {
    const status = error.statusCode ?? 500;
    return {
      status,
      text: error.hint ? `${error.message}\n${error.hint}\n` : `${error.message}\n`,
    };
  }
  return { status: 502, text: `The sandbox URL failed: ${(error as Error).message}\n` };
}

function sendError(response: ServerResponse, request: IncomingMessage, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const { status, text } = statusOf(error);
  const html = /\btext\/html\b/.test(request.headers.accept ?? '');
  const body = html
    ? `<!doctype html><title>${status}</title><pre>${escapeHtml(text)}</pre>\n`
    : text;
  response.writeHead(status, {
    'Content-Type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...(status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}),
  });
  response.end(body);
}

function writeRawError(socket: Duplex, error: unknown): void {
  const { status, text } = statusOf(error);
  socket.end(
    `HTTP/1.1 ${status} ${status === 502 ? 'Bad Gateway' : 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** Routes the server's requests and upgrades of sandbox URLs to the proxy, the rest as before. */
export function installUrlProxy(server: import('node:http').Server, proxy: UrlProxy): void {
  for (const event of ['request', 'upgrade'] as const) {
    const listeners = server.listeners(event) as ((...args: unknown[]) => void)[];
    server.removeAllListeners(event);
    server.on(event, (request: IncomingMessage, ...rest: unknown[]) => {
      if (!proxy.claims(request)) {
        for (const listener of listeners) listener(request, ...rest);
      } else if (event === 'request') {
        void proxy.handleRequest(request, rest[0] as ServerResponse);
      } else {
        void proxy.handleUpgrade(request, rest[0] as Duplex, rest[1] as Buffer);
      }
    });
  }
}
