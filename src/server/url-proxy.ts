import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { MagsError } from '../errors/mags-error.ts';
import type { Sandbox } from '../runtimes/runtime.ts';
import type { SandboxUse } from '../sandboxes/sandbox-use.ts';
import type { SandboxUrls } from '../urls/sandbox-urls.ts';
import { decideUrlAccess, type UrlAccess, UrlAccessError } from '../urls/url-access.ts';
import { hostLabelOf, isUrlRequest, parsePathForm, urlAddress } from '../urls/url-addresses.ts';
import { type ForwardTiming, pipeRequestToHost } from './forwarding/forward-http.ts';
import { forwardUpgrade } from './forwarding/forward-upgrade.ts';
import { forwardedByHeader, type HostTarget } from './forwarding/host-forwarder.ts';
import { openPortOf, PortAgent } from './port-agent.ts';
import type { ServerServices } from './server-env.ts';
import {
  answerHeaders,
  forwardedHeaders,
  linkCookie,
  linksOf,
  protocolOf,
  withoutLink,
} from './url-forward-headers.ts';
import { portError, sendError, writeRawError, writeRawRedirect } from './url-proxy-errors.ts';
import { relayUpgrade, UpgradeCounts, writeHandshake } from './url-upgrades.ts';

/**
 * A path-form answer reached without the owner's token (a public URL) runs in an opaque origin:
 * the page shares the server's origin (the dashboard, the API, other URLs) otherwise.
 */
const pathFormSandboxPolicy =
  'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads';

/** Who may use the URL asked for, and how its request is addressed. */
interface Resolved {
  access: UrlAccess;
  /** `/u/ID` in the path form, undefined in the host form. */
  pathPrefix: string | undefined;
  /** The path and query the sandbox's server gets (the `/u/ID` prefix and the link removed). */
  path: string;
  /** Set-Cookie for a link's first visit, scoped to this URL. */
  cookie: string | undefined;
}

/** A request the proxy will forward: resolved, and its sandbox awake and held while it lasts. */
interface Target extends Resolved {
  use: SandboxUse;
  runtime: string;
}

/** What the proxy answers without reaching the sandbox: a redirect. */
class Redirect {
  readonly status: number;
  readonly location: string;
  readonly cookie: string | undefined;

  constructor(status: number, location: string, cookie?: string) {
    this.status = status;
    this.location = location;
    this.cookie = cookie;
  }
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
  readonly #upgrades = new UpgradeCounts();

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
      const resolved = await this.#resolve(request, { upgrade: false });
      if (resolved instanceof Redirect) {
        response.writeHead(resolved.status, {
          Location: resolved.location,
          'Content-Length': '0',
          'Cache-Control': 'no-store',
          ...(resolved.cookie ? { 'Set-Cookie': resolved.cookie } : {}),
        });
        response.end();
        return;
      }
      const remote = await this.#remote(resolved, request);
      if (remote) {
        await pipeRequestToHost(remote.target, remote.from, request, response, remote.timing);
        return;
      }
      target = await this.#target(resolved);
      const { access, use, pathPrefix } = target;
      const agent = this.#agentFor(access, use.sandbox, target.runtime);
      const upstream = httpRequest({
        agent,
        method: request.method,
        path: target.path,
        headers: forwardedHeaders(request, access),
      });
      response.once('close', () => {
        use.release();
        if (!response.writableFinished) upstream.destroy();
      });
      upstream.once('response', (answer) => {
        const headers = answerHeaders(answer, pathPrefix ? { pathPrefix } : {});
        if (target?.cookie)
          headers['set-cookie'] = [...(headers['set-cookie'] ?? []), target.cookie];
        if (pathPrefix && access.via === 'public') {
          const policy = headers['content-security-policy'];
          headers['content-security-policy'] = [
            ...(policy === undefined ? [] : [policy]),
            pathFormSandboxPolicy,
          ].join(', ');
        }
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
    const releases: (() => void)[] = [];
    const releaseAll = () => {
      for (const release of releases.splice(0)) release();
    };
    try {
      const resolved = await this.#resolve(request, { upgrade: true });
      if (resolved instanceof Redirect) {
        writeRawRedirect(socket, resolved.status, resolved.location);
        return;
      }
      const { owner, sandbox } = resolved.access.record;
      // A WebSocket is a long-lived answer of its owner's, and one of its sandbox's few.
      if (this.#services.streams) releases.push(this.#services.streams.open(owner));
      releases.push(this.#upgrades.open(owner, sandbox));
      const remote = await this.#remote(resolved, request);
      if (remote) {
        await forwardUpgrade(remote.target, remote.from, request, socket, head, {
          connectTimeoutMs: remote.timeoutMs,
          onClose: releaseAll,
        });
        return;
      }
      target = await this.#target(resolved);
      releases.push(target.use.release);
      stream = await openPortOf(
        target.use.sandbox,
        target.access.record.port,
        target.runtime,
      ).catch((error: unknown) => {
        throw portError(error, (target as Target).access);
      });
    } catch (error) {
      releaseAll();
      writeRawError(socket, error);
      return;
    }
    // The handshake as the client sent it (less the mags credential), then raw bytes both ways:
    // the sandbox's server answers 101 (or refuses) itself.
    const headers = forwardedHeaders(request, target.access, { upgrade: true });
    writeHandshake(stream, `${request.method} ${target.path}`, headers, head);
    relayUpgrade(socket, stream, releaseAll);
  }

  /** Drops the keep-alive connections (the server is closing). */
  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  /** Which URL, whether the request may use it, and the redirects answered before the sandbox. */
  async #resolve(
    request: IncomingMessage,
    options: { upgrade: boolean },
  ): Promise<Resolved | Redirect> {
    const path = request.url ?? '/';
    const { repository } = this.#services;
    const { domain } = this.#urls;
    const label = domain ? hostLabelOf(request.headers.host, domain) : undefined;
    let records: Awaited<ReturnType<typeof repository.findSandboxUrlsByHostLabel>> = [];
    let forwardPath = path;
    let pathPrefix: string | undefined;
    if (label) {
      records = await repository.findSandboxUrlsByHostLabel(label);
    } else {
      const parsed = parsePathForm(path);
      if (parsed?.bare) {
        // `/u/ID` without the slash: relative links would resolve above it.
        const query = path.indexOf('?');
        return new Redirect(308, `/u/${parsed.urlId}/${query >= 0 ? path.slice(query) : ''}`);
      }
      if (parsed) {
        const record = await repository.getSandboxUrl(parsed.urlId);
        if (record) records = [record];
        forwardPath = parsed.forwardPath;
        pathPrefix = `/u/${parsed.urlId}`;
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
    if (pathPrefix) {
      // With a domain, a URL that has a host of its own is served there only: the path form
      // runs the app's pages in the server's origin (its dashboard, its API, other URLs).
      if (domain && record.hostLabel) {
        return new Redirect(308, `${this.#hostFormOf(request, record)}${forwardPath.slice(1)}`);
      }
      // A service worker registered here could control every page of the server's origin.
      if (request.headers['service-worker'] !== undefined) {
        throw new MagsError('A sandbox URL in the path form cannot register a service worker.', {
          code: 'service_worker_refused',
          statusCode: 403,
          hint: 'Serve the app under its own host: start the server with --url-domain DOMAIN (a wildcard DNS name).',
        });
      }
    }
    const secure = protocolOf(request) === 'https';
    const cookie =
      access.via === 'link' && fromQuery && access.link
        ? linkCookie(access.link.value, access.link.expiresAtMs, `${pathPrefix ?? ''}/`, secure)
        : undefined;
    // A link's first visit: the cookie, and the same address without the link, so the link
    // stays out of the browser's history and the Referer the app's pages send on.
    if (cookie && !options.upgrade && (request.method === 'GET' || request.method === 'HEAD')) {
      return new Redirect(303, withoutLink(path), cookie);
    }
    return { access, pathPrefix, path: withoutLink(forwardPath), cookie };
  }

  #hostFormOf(request: IncomingMessage, record: UrlAccess['record']): string {
    try {
      const origin = new URL(`${protocolOf(request)}://${request.headers.host ?? 'localhost'}`);
      return urlAddress(record, origin, this.#urls.domain);
    } catch {
      return urlAddress(record, new URL('http://localhost'), this.#urls.domain);
    }
  }

  /**
   * The host holding the URL's sandbox when it is not this one: its own proxy answers (and
   * checks the request again); undefined: the sandbox is here.
   */
  async #remote(
    resolved: Resolved,
    request: IncomingMessage,
  ): Promise<
    { target: HostTarget; from: string; timeoutMs: number; timing: ForwardTiming } | undefined
  > {
    const forwarder = this.#services.forwarder;
    if (!forwarder) return undefined;
    const { owner, sandbox } = resolved.access.record;
    const forwardedBy = request.headers[forwardedByHeader];
    const target = await forwarder.forSandbox(
      owner,
      sandbox,
      Array.isArray(forwardedBy) ? forwardedBy[0] : forwardedBy,
    );
    return (
      target && {
        target,
        from: forwarder.host,
        timeoutMs: forwarder.connectTimeoutMs,
        // An app may take its time to answer (a long poll): no response timeout, as here, but
        // its host's liveness is checked while it waits.
        timing: { ...forwarder.timing(target), responseTimeoutMs: undefined },
      }
    );
  }

  /** The sandbox of a resolved request, awake and held. */
  async #target(resolved: Resolved): Promise<Target> {
    const { record } = resolved.access;
    const sandboxes = this.#services.sandboxes;
    const found = await sandboxes.get(record.owner, record.sandbox).catch(() => {
      throw new UrlAccessError(404, 'No such sandbox URL.', 'Its sandbox was deleted.');
    });
    // A sandbox deleted and made again under the same name is another sandbox: none of its URLs.
    if (found.createdAt !== record.sandboxCreatedAt) {
      throw new UrlAccessError(404, 'No such sandbox URL.', 'Its sandbox was deleted.');
    }
    const use = await sandboxes.use(record.owner, record.sandbox);
    return { ...resolved, use, runtime: found.runtime ?? 'default' };
  }

  #agentFor(access: UrlAccess, sandbox: Sandbox, runtime: string): PortAgent {
    const key = `${access.record.owner}\0${access.record.sandbox}\0${access.record.port}`;
    let agent = this.#agents.get(key);
    // A sandbox started again is a new one: the old one's connections are gone with it.
    if (agent && agent.sandbox !== sandbox) {
      agent.destroy();
      agent = undefined;
    }
    if (!agent) {
      agent = new PortAgent(sandbox, access.record.port, runtime);
      this.#agents.set(key, agent);
    }
    return agent;
  }
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
