import type { CreateSandboxUrlBody, SandboxUrl } from '../api/sandbox-urls.ts';

export type { CreateSandboxUrlBody, SandboxUrl };

type Json = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/**
 * `mags.sandboxes.urls`: URLs to a sandbox's ports, served by the server's proxy; private
 * unless `public` (the owner's token, or the `signedUrl` a private URL with an expiry gets).
 */
export function sandboxUrlsClient(
  json: Json,
  send: (method: string, path: string) => Promise<unknown>,
) {
  const urlsOf = (name: string) => `/v1/sandboxes/${encodeURIComponent(name)}/urls`;
  return {
    /** A URL to `port` inside the sandbox (501 when its runtime cannot reach ports). */
    create: (name: string, body: CreateSandboxUrlBody): Promise<SandboxUrl> =>
      json('POST', urlsOf(name), body),
    /** The URLs not revoked, of one sandbox or of all the owner's, oldest first. */
    list: async (name?: string): Promise<SandboxUrl[]> =>
      (await json<{ urls: SandboxUrl[] }>('GET', name === undefined ? '/v1/urls' : urlsOf(name)))
        .urls,
    /** Its address and links answer 404 from now on. */
    revoke: async (id: string): Promise<void> => {
      await send('DELETE', `/v1/urls/${encodeURIComponent(id)}`);
    },
  };
}
