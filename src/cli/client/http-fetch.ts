import type { IncomingMessage } from 'node:http';

/**
 * A `fetch` for the CLI built on node:http. Node's global fetch loads undici and compiles its
 * WebAssembly HTTP parser on first use: ~60 ms that every short CLI command talking to a server
 * would pay (measured: `node -e "new Response('x')"` 90 ms vs `node -e 0` 30 ms). This covers
 * what the SDK uses: string or byte bodies, an abort signal, status, headers, and a body read
 * whole or iterated as it arrives (SSE). The SDK itself stays on the standard fetch.
 */
export const httpFetch = (async (input: string | URL, init: RequestInit = {}) => {
  const url = new URL(String(input));
  // getBuiltinModule, not import(): the ESM facade of node:http reads every export, and one of
  // them (WebSocket) loads undici, the very cost this module exists to avoid.
  const { request } = process.getBuiltinModule(
    url.protocol === 'https:' ? 'node:https' : 'node:http',
  ) as typeof import('node:http');
  const body = init.body as string | Uint8Array | AsyncIterable<Uint8Array> | undefined | null;
  return new Promise<HttpResponse>((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers as Record<string, string>,
        // One connection per request: an idle kept-alive socket would hold the CLI open.
        agent: false,
        signal: init.signal ?? undefined,
      },
      (message) => resolve(new HttpResponse(message)),
    );
    // The same shape as fetch's failures: a TypeError whose cause has the system error's code.
    outgoing.on('error', (error) => {
      reject(
        init.signal?.aborted
          ? error
          : Object.assign(new TypeError('fetch failed'), { cause: error }),
      );
    });
    if (
      body === null ||
      body === undefined ||
      typeof body === 'string' ||
      body instanceof Uint8Array
    ) {
      outgoing.end(body ?? undefined);
    } else {
      // A streamed upload: written as it is read, waiting whenever the socket is full.
      void (async () => {
        for await (const chunk of body) {
          if (!outgoing.write(chunk)) {
            await new Promise((resolve) => outgoing.once('drain', resolve));
          }
        }
        outgoing.end();
      })().catch((error: unknown) => outgoing.destroy(error as Error));
    }
  });
}) as unknown as typeof fetch;

class HttpResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly body: IncomingMessage;
  readonly headers: { get(name: string): string | null };

  constructor(message: IncomingMessage) {
    this.status = message.statusCode ?? 0;
    this.ok = this.status >= 200 && this.status < 300;
    this.body = message;
    this.headers = {
      get: (name) => {
        const value = message.headers[name.toLowerCase()];
        return Array.isArray(value) ? value.join(', ') : (value ?? null);
      },
    };
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.body) chunks.push(chunk as Buffer);
    const whole = Buffer.concat(chunks);
    return whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.length) as ArrayBuffer;
  }

  async text(): Promise<string> {
    return Buffer.from(await this.arrayBuffer()).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}
