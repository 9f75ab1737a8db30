import { randomBytes } from 'node:crypto';
import type { MagsContext } from '../context/mags-context.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors/mags-error.ts';
import { requireCapability } from '../runtimes/require-capability.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import { sandboxRuntime } from '../sandboxes/start-long-lived-sandbox.ts';
import type { SandboxUrlRecord, StateRepository } from '../state/state-repository.ts';
import { hostLabelFor, linkParameter, urlAddress } from './url-addresses.ts';
import type { UrlLinkSigner } from './url-link-signer.ts';

/** What `mags url` asks for. */
export interface CreateSandboxUrlRequest {
  port: number;
  /** Anyone may open it (default: the owner's token or a signed link). */
  public?: boolean;
  /** The URL (and its signed link) ends this long after it is made. */
  expiresInMs?: number;
}

/** A URL as the API shows it. */
export interface SandboxUrlView {
  id: string;
  sandbox: string;
  port: number;
  public: boolean;
  /** The address to open: host form under the server's URL domain, else `/u/ID/`. */
  url: string;
  /** Private with an expiry: the address with its signed link (shown once, when made). */
  signedUrl?: string;
  createdAt: string;
  expiresAt: string | null;
}

/** The longest a URL may live: a signed link is a bearer secret, so it must end. */
export const maxUrlLifetimeMs = 30 * 86_400_000;

/** Live URLs (neither revoked nor expired) one owner may have: each is a way into a sandbox. */
export const maxUrlsPerOwner = 200;

/** A URL revoked or expired this long ago is deleted (what it answered, a 404, stays the same). */
const endedUrlRetentionMs = 7 * 86_400_000;

/** How often making a URL also deletes the ended ones. */
const sweepEveryMs = 3_600_000;

/**
 * URLs to long-lived sandboxes' ports (issue 16): records in the state, addresses made from the
 * origin the API was reached at, signed links. The proxy (`src/server/url-proxy.ts`) serves them.
 */
export class SandboxUrls {
  readonly #repository: StateRepository;
  readonly #sandboxes: SandboxManager;
  readonly #context: MagsContext;
  readonly #signer: UrlLinkSigner;
  #sweptAtMs = 0;
  /** The wildcard domain of the host form (`mags server --url-domain`), if any. */
  readonly domain: string | undefined;

  constructor(options: {
    repository: StateRepository;
    sandboxes: SandboxManager;
    context: MagsContext;
    signer: UrlLinkSigner;
    domain?: string;
  }) {
    this.#repository = options.repository;
    this.#sandboxes = options.sandboxes;
    this.#context = options.context;
    this.#signer = options.signer;
    this.domain = options.domain;
  }

  get signer(): UrlLinkSigner {
    return this.#signer;
  }

  async create(
    owner: string,
    name: string,
    request: CreateSandboxUrlRequest,
    origin: URL,
  ): Promise<SandboxUrlView> {
    const { port, expiresInMs } = request;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidInputError(`Port ${port} is not a TCP port.`, {
        code: 'invalid_port',
        hint: 'Give a port from 1 to 65535.',
      });
    }
    if (expiresInMs !== undefined && (expiresInMs <= 0 || expiresInMs > maxUrlLifetimeMs)) {
      throw new InvalidInputError(
        'A URL expires between one second and 30 days after it is made.',
        {
          code: 'invalid_expiry',
          hint: 'e.g. --expires 1h, --expires 7d.',
        },
      );
    }
    const sandbox = await this.#sandboxes.get(owner, name);
    // The runtime's agent relays the port (capability `ports`): refused now, not at each request.
    requireCapability(sandboxRuntime(this.#context, sandbox), 'ports');
    const now = Date.now();
    await this.#sweep(now);
    const live = (await this.#repository.listSandboxUrls(owner)).filter(
      (url) => url.expiresAt === null || Date.parse(url.expiresAt) > now,
    );
    if (live.length >= maxUrlsPerOwner) {
      throw new ConflictError(
        `You have ${live.length} sandbox URLs, the most one owner may (${maxUrlsPerOwner}).`,
        {
          code: 'url_limit_reached',
          hint: 'Revoke the ones you no longer use: mags url list, mags url revoke ID.',
        },
      );
    }
    const record: SandboxUrlRecord = {
      id: `url_${randomBytes(8).toString('hex')}`,
      owner,
      sandbox: name,
      sandboxCreatedAt: sandbox.createdAt,
      port,
      public: request.public ?? false,
      hostLabel: hostLabelFor(owner, name, port),
      createdAt: new Date(now).toISOString(),
      expiresAt: expiresInMs === undefined ? null : new Date(now + expiresInMs).toISOString(),
      revokedAt: null,
    };
    await this.#repository.insertSandboxUrl(record);
    const view = this.view(record, origin);
    if (!record.public && expiresInMs !== undefined) {
      const link = this.#signer.sign(record.id, now + expiresInMs);
      view.signedUrl = `${view.url}?${linkParameter}=${link}`;
    }
    return view;
  }

  /** Deletes URLs ended long ago, at most once an hour: the table holds what may still answer. */
  async #sweep(nowMs: number): Promise<void> {
    if (nowMs - this.#sweptAtMs < sweepEveryMs) return;
    this.#sweptAtMs = nowMs;
    await this.#repository.deleteSandboxUrlsEndedBefore(
      new Date(nowMs - endedUrlRetentionMs).toISOString(),
    );
  }

  async list(owner: string, origin: URL, sandbox?: string): Promise<SandboxUrlView[]> {
    const records = await this.#repository.listSandboxUrls(owner, sandbox);
    return records.map((record) => this.view(record, origin));
  }

  /** Revokes one of the owner's URLs: a 404 for another owner's, or one revoked already. */
  async revoke(owner: string, id: string): Promise<void> {
    if (!(await this.#repository.revokeSandboxUrl(owner, id, new Date().toISOString()))) {
      throw new NotFoundError(`No URL ${JSON.stringify(id)}.`, {
        code: 'url_not_found',
        hint: 'mags url list shows yours.',
      });
    }
  }

  view(record: SandboxUrlRecord, origin: URL): SandboxUrlView {
    return {
      id: record.id,
      sandbox: record.sandbox,
      port: record.port,
      public: record.public,
      url: urlAddress(record, origin, this.domain),
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
    };
  }
}
