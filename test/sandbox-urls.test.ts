/**
 * Sandbox URLs (`mags url`, issue 16) against a real `mags server` process started with
 * --url-domain: a web app inside long-lived sandboxes without a network, reached through the
 * server's proxy in the host form (sandbox `web`) and the path form (sandbox `web_path`, whose
 * name is no DNS label), HTTP (streamed both ways) and WebSocket; who may use a URL (the owner's
 * token, a signed link and its cookie, public) and who may not (another owner, an expired link,
 * a revoked URL); what the path form keeps from the server's origin; a sleeping sandbox woken by
 * a request.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Mags } from '../src/sdk/index.ts';
import { sandboxWebApp } from './helpers/sandbox-web-app.ts';
import { startServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping sandbox URL tests: ${skip}\n`);

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with node:http (fetch cannot set Host), the whole answer read. */
function get(
  url: string,
  headers: Record<string, string> = {},
  options: { method?: string; body?: Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method: options.method ?? 'GET', headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () =>
        resolve({
          status: answer.statusCode ?? 0,
          headers: answer.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      answer.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

/** A WebSocket handshake by hand (Host set, status seen): its status and Retry-After. */
function upgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; retryAfter: string | undefined; socket?: Duplex }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    outgoing.on('upgrade', (answer, socket) =>
      resolve({ status: answer.statusCode ?? 0, retryAfter: undefined, socket }),
    );
    outgoing.on('response', (answer) => {
      answer.resume();
      resolve({ status: answer.statusCode ?? 0, retryAfter: answer.headers['retry-after'] });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('sandbox URLs through a real server process', { skip, timeout: 300_000 }, () => {
  let testHome: TestHome;
  let server: { child: ChildProcess; url: string };
  let token: string;
  let otherToken: string;
  let mags: Mags;
  const sandbox = 'web';
  // No DNS label (`_`): its URLs take the path form even on a server with a domain.
  const pathSandbox = 'web_path';
  const bearer = () => ({ authorization: `Bearer ${token}` });
  let privateMade: { id: string; url: string };
  /** A request to a host-form URL: the server is reached on loopback, its Host picks the URL. */
  const at = (
    made: { url: string },
    path: string,
    headers: Record<string, string> = {},
    options: { method?: string; body?: Buffer } = {},
  ) => get(`${server.url}${path}`, { host: new URL(made.url).host, ...headers }, options);
  /** The path form of a URL (served whatever the Host). */
  const pathForm = (made: { id: string }) => `${server.url}/u/${made.id}/`;
  const linkOf = (made: { signedUrl?: string }) => new URL(made.signedUrl as string).search;

  before(async () => {
    testHome = await createTestHome();
    server = await startServerProcess(
      // Three long-lived answers per owner: the WebSocket test reaches the limit.
      { ...process.env, MAGS_HOME: testHome.home, MAGS_MAX_STREAMS_PER_OWNER: '3' },
      [
        '--pool-size',
        '0',
        '--url-domain',
        'example.test',
        // Idle sandboxes sleep within a second: a request must wake them.
        '--sleep-after',
        '1',
      ],
    );
    for (const owner of ['alice', 'bob']) {
      const created = await runCli(testHome.home, ['token', 'create', '--owner', owner]);
      assert.equal(created.code, 0, created.stderr);
      if (owner === 'alice') token = created.stdout.toString().trim();
      else otherToken = created.stdout.toString().trim();
    }
    mags = new Mags({ url: server.url, token });
    for (const name of [sandbox, pathSandbox]) {
      // No --net: the sandbox has loopback only, and still serves its URL.
      await mags.sandboxes.create({ name, ephemeral: true });
      await mags.sandboxes.files.write(name, '/tmp/app.js', sandboxWebApp);
      const started = await mags.sandboxes.execAndWait(name, [
        'sh',
        '-c',
        'setsid node /tmp/app.js 8080 > /tmp/app.log 2>&1 < /dev/null &',
      ]);
      assert.equal(started.exitCode, 0, started.stderr);
    }
    privateMade = await mags.sandboxes.urls.create(sandbox, { port: 8080 });
    const pathMade = await mags.sandboxes.urls.create(pathSandbox, { port: 8080 });
    // Until the apps listen, the proxy answers 502.
    await waitUntil(async () => (await at(privateMade, '/hello', bearer())).status === 200, 30_000);
    await waitUntil(
      async () => (await get(`${pathForm(pathMade)}hello`, bearer())).status === 200,
      30_000,
    );
  });
  after(async () => {
    server?.child.kill('SIGKILL');
    await testHome?.cleanup();
  });

  test('the host form PORT-NAME-TAG under --url-domain reaches the app, with the token', async () => {
    const host = new URL(privateMade.url).host;
    assert.match(host, /^8080-web-[0-9a-f]{8}\.example\.test:\d+$/);
    const answer = await at(privateMade, '/path?q=1', bearer());
    assert.equal(answer.status, 200, answer.body);
    const seen = JSON.parse(answer.body);
    assert.equal(seen.url, '/path?q=1');
    assert.equal(seen.headers.host, host);
    assert.equal(seen.headers['x-forwarded-host'], host);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.match(seen.headers['x-forwarded-for'], /127\.0\.0\.1/);
    // The owner's token is the proxy's, never the app's.
    assert.equal(seen.headers.authorization, undefined);
    // The same path without the Host of a URL is the API's (which wants a token for /v1).
    assert.equal((await get(`${server.url}/v1/sandboxes`)).status, 401);
    // A name under the domain that is not PORT-NAME-TAG is not the proxy's either.
    assert.equal(
      (await get(`${server.url}/v1/sandboxes`, { host: 'www.example.test' })).status,
      401,
    );
  });

  test('HTTP streams answers and request bodies both ways', async () => {
    // A 5 MiB body goes up, a 20 MiB answer comes down: past the agent's 1 MiB windows.
    const upload = await at(privateMade, '/upload', bearer(), {
      method: 'POST',
      body: Buffer.alloc(5 * 1024 * 1024, 7),
    });
    assert.equal(JSON.parse(upload.body).received, 5 * 1024 * 1024);
    const download = await at(privateMade, `/bytes/${20 * 1024 * 1024}`, bearer());
    assert.equal(download.status, 200);
    assert.equal(download.body.length, 20 * 1024 * 1024);
    // The first chunk arrives while the app still holds the answer open: streamed, not buffered.
    const host = new URL(privateMade.url).host;
    const first = await new Promise<{ chunk: string; rest: Promise<string> }>((resolve, reject) => {
      httpRequest(`${server.url}/stream`, { headers: { host, ...bearer() } }, (answer) => {
        answer.once('data', (chunk: Buffer) => {
          const chunks: string[] = [];
          answer.on('data', (more: Buffer) => chunks.push(more.toString()));
          resolve({
            chunk: chunk.toString(),
            rest: new Promise((done) => answer.on('end', () => done(chunks.join('')))),
          });
        });
      })
        .on('error', reject)
        .end();
    });
    assert.equal(first.chunk, 'first\n');
    assert.equal((await at(privateMade, '/release', bearer())).body, 'released');
    assert.equal(await first.rest, 'last\n');
  });

  test('a chunked body on a GET stays that request’s: nothing is smuggled onto the shared relay', async () => {
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const host = new URL(privateMade.url).host;
    const first = await new Promise<string>((resolve, reject) => {
      const outgoing = httpRequest(
        `${server.url}/first`,
        { method: 'GET', headers: { host, ...bearer(), 'transfer-encoding': 'chunked' } },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => resolve(Buffer.concat(chunks).toString()));
        },
      );
      outgoing.on('error', reject);
      outgoing.end(smuggled);
    });
    const seen = JSON.parse(first);
    assert.equal(seen.url, '/first');
    assert.equal(seen.received, smuggled.length); // the app read it as this request's body
    // The next requests (on the same keep-alive relay) get their own answers.
    for (const path of ['/second', '/third']) {
      const answer = await at(privateMade, path, bearer());
      assert.equal(JSON.parse(answer.body).url, path);
    }
  });

  test('a WebSocket echo inside is reached through the URL; WebSockets count as streams', async () => {
    const made = await mags.sandboxes.urls.create(pathSandbox, {
      port: 8080,
      expiresInSeconds: 600,
    });
    const open: WebSocket[] = [];
    try {
      for (let index = 0; index < 3; index++) {
        const socket = new WebSocket(`${pathForm(made).replace(/^http/, 'ws')}ws${linkOf(made)}`);
        open.push(socket);
        const echoed = await new Promise<string>((resolve, reject) => {
          socket.onopen = () => socket.send(`hello ${index} through the agent`);
          socket.onmessage = (event) => resolve(String(event.data));
          socket.onerror = () => reject(new Error('WebSocket failed'));
        });
        assert.equal(echoed, `echo: hello ${index} through the agent`);
      }
      // MAGS_MAX_STREAMS_PER_OWNER is 3: a fourth is refused, to be tried again later.
      const fourth = await upgrade(`${pathForm(made)}ws${linkOf(made)}`, {});
      assert.equal(fourth.status, 429);
      assert.equal(fourth.retryAfter, '5');
    } finally {
      for (const socket of open) socket.close();
    }
    // Closed, they free their slots; the host form upgrades too.
    await waitUntil(async () => {
      const again = await upgrade(`${server.url}/ws`, {
        host: new URL(privateMade.url).host,
        ...bearer(),
      });
      again.socket?.destroy();
      return again.status === 101;
    }, 10_000);
  });

  test('private: no credential 401, another owner 404, a revoked URL 404, public needs nothing', async () => {
    const noCredential = await at(privateMade, '/hello');
    assert.equal(noCredential.status, 401);
    assert.match(noCredential.body, /private/);
    const other = await at(privateMade, '/hello', { authorization: `Bearer ${otherToken}` });
    assert.equal(other.status, 404);
    // A URL that never was answers the same as another owner's.
    const never = await get(`${server.url}/u/url_0123456789abcdef/`, {
      authorization: `Bearer ${otherToken}`,
    });
    assert.equal(never.status, 404);
    assert.equal(never.body, other.body);
    const open = await mags.sandboxes.urls.create(sandbox, { port: 8080, public: true });
    // Through the API too, another owner neither sees nor revokes it, nor makes one of its own.
    const bob = new Mags({ url: server.url, token: otherToken });
    assert.deepEqual(await bob.sandboxes.urls.list(), []);
    await assert.rejects(bob.sandboxes.urls.revoke(open.id), { statusCode: 404 });
    await assert.rejects(bob.sandboxes.urls.create(sandbox, { port: 8080 }), { statusCode: 404 });
    assert.equal((await at(open, '/hello')).status, 200);
    // A public URL is let in before any token is looked at: a mags token sent along anyway is
    // still never the app's, while the app's own Authorization is.
    const withToken = JSON.parse((await at(open, '/hello', bearer())).body);
    assert.equal(withToken.headers.authorization, undefined);
    const appOwn = JSON.parse((await at(open, '/hello', { authorization: 'Bearer app-1' })).body);
    assert.equal(appOwn.headers.authorization, 'Bearer app-1');
    await mags.sandboxes.urls.revoke(open.id);
    assert.equal((await at(open, '/hello')).status, 401);
    assert.equal((await get(`${pathForm(open)}hello`, bearer())).status, 404);
    assert.ok(!(await mags.sandboxes.urls.list(sandbox)).some((url) => url.id === open.id));
  });

  test('a signed link sets its cookie and goes on without the link; refused once expired', async () => {
    const made = await mags.sandboxes.urls.create(sandbox, { port: 8080, expiresInSeconds: 3600 });
    assert.ok(made.signedUrl);
    const first = await at(made, `/hello${linkOf(made)}&x=1`);
    // The first visit: the cookie, and the address again without the link (history, Referer).
    assert.equal(first.status, 303, first.body);
    assert.equal(first.headers.location, '/hello?x=1');
    const cookie = (first.headers['set-cookie'] ?? [])[0] ?? '';
    assert.match(cookie, /^mags_link=url_[0-9a-f]{16}\.\d+\.[\w-]+; Path=\/;/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.doesNotMatch(cookie, /Secure/);
    // Behind a TLS front end on this host, the cookie is Secure.
    const tls = await at(made, `/hello${linkOf(made)}`, { 'x-forwarded-proto': 'https' });
    assert.match((tls.headers['set-cookie'] ?? [])[0] ?? '', /; Secure$/);
    // A browser goes on with the cookie alone; the app sees neither it nor the link.
    const again = await at(made, '/hello?x=1', { cookie: `${cookie.split(';')[0]}; theme=dark` });
    assert.equal(again.status, 200);
    const seen = JSON.parse(again.body);
    assert.equal(seen.url, '/hello?x=1');
    assert.equal(seen.headers.cookie, 'theme=dark');
    // A POST with the link is served at once (a redirect would lose its body); its cookie too.
    const posted = await at(
      made,
      `/form${linkOf(made)}`,
      {},
      { method: 'POST', body: Buffer.from('a=1') },
    );
    assert.equal(posted.status, 200);
    assert.equal(JSON.parse(posted.body).url, '/form');
    assert.match((posted.headers['set-cookie'] ?? [])[0] ?? '', /^mags_link=/);
    // A link whose signature is wrong is as good as none of this URL.
    // (The signature's first character: the last one of base64url carries padding bits a decoder
    // ignores, so changing it may leave the same bytes.)
    const forged = linkOf(made).replace(
      /\.([\w-])([\w-]*)$/,
      (_, first: string, rest: string) => `.${first === 'A' ? 'B' : 'A'}${rest}`,
    );
    assert.equal((await at(made, `/${forged}`)).status, 404);
    const short = await mags.sandboxes.urls.create(sandbox, { port: 8080, expiresInSeconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await at(short, `/${linkOf(short)}`);
    assert.equal(expired.status, 410);
    assert.match(expired.body, /expired/);
  });

  test('the path form: /u/ID/ stripped; kept from the server origin; a URL with a host goes there', async () => {
    const made = await mags.sandboxes.urls.create(pathSandbox, { port: 8080 });
    assert.match(made.url, /\/u\/url_[0-9a-f]{16}\/$/);
    const seen = JSON.parse((await get(`${pathForm(made)}a/b?c=d`, bearer())).body);
    assert.equal(seen.url, '/a/b?c=d');
    // /u/ID without its slash is redirected (relative links resolve under it).
    const bare = await get(pathForm(made).slice(0, -1), bearer());
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.location, new URL(pathForm(made)).pathname);
    // The app's cookie stays under /u/ID/; it claims no service worker scope, and registers none.
    const cookies = await get(`${pathForm(made)}set-cookie`, bearer());
    assert.equal(cookies.status, 200);
    assert.deepEqual(cookies.headers['set-cookie'], [`session=1; Path=/u/${made.id}/; HttpOnly`]);
    assert.equal(cookies.headers['service-worker-allowed'], undefined);
    const worker = await get(`${pathForm(made)}sw.js`, { ...bearer(), 'service-worker': 'script' });
    assert.equal(worker.status, 403);
    assert.match(worker.body, /service worker/);
    // A public one's pages run in an opaque origin, not the server's.
    const open = await mags.sandboxes.urls.create(pathSandbox, { port: 8080, public: true });
    const page = await get(`${pathForm(open)}hello`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /^sandbox allow-scripts/);
    // The signed link's cookie is scoped to the URL's path.
    const linked = await mags.sandboxes.urls.create(pathSandbox, {
      port: 8080,
      expiresInSeconds: 60,
    });
    const first = await get(`${pathForm(linked)}${linkOf(linked)}`);
    assert.equal(first.status, 303);
    assert.equal(first.headers.location, `/u/${linked.id}/`);
    assert.match(
      (first.headers['set-cookie'] ?? [])[0] ?? '',
      new RegExp(`; Path=/u/${linked.id}/;`),
    );
    // With a domain, a URL that has a host is served there only, even to its owner.
    const moved = await get(`${pathForm(privateMade as { id: string })}hello?q=1`, bearer());
    assert.equal(moved.status, 308);
    assert.equal(moved.headers.location, `${new URL(privateMade.url).origin}/hello?q=1`);
  });

  test('nothing listening is a 502 naming the port; the CLI prints URLs and refuses bad ports', async () => {
    const made = await mags.sandboxes.urls.create(sandbox, { port: 9999 });
    const answer = await at(made, '/', { ...bearer(), accept: 'text/html' });
    assert.equal(answer.status, 502);
    assert.match(answer.body, /Nothing listens on port 9999 in the sandbox web/);
    assert.match(answer.body, /setsid node server.js/);
    const env = { MAGS_URL: server.url, MAGS_API_TOKEN: token };
    const printed = await runCli(testHome.home, ['url', sandbox, '8080', '--expires', '1h'], {
      env,
    });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(
      printed.stdout.toString(),
      /^http:\/\/8080-web-[0-9a-f]{8}\.example\.test:\d+\/\?mags_link=/,
    );
    assert.match(printed.stderr, /signed link/);
    const bad = await runCli(testHome.home, ['url', sandbox, '70000'], { env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not a TCP port/);
    const listed = await runCli(testHome.home, ['url', 'list', sandbox], { env });
    assert.match(listed.stdout.toString(), /9999/);
    const missing = await runCli(testHome.home, ['url', 'nosuch', '8080'], { env });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No sandbox "nosuch"/);
  });

  test('the sandbox has no network besides loopback, and a sleeping one wakes on a request', async () => {
    // /proc/net/dev: two header lines, then one line per interface.
    const interfaces = await mags.sandboxes.execAndWait(
      sandbox,
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
    );
    assert.equal(interfaces.exitCode, 0, interfaces.stderr);
    assert.equal(interfaces.stdout.trim(), 'lo');
    await waitUntil(async () => (await mags.sandboxes.get(sandbox)).status === 'sleeping', 20_000);
    const answer = await at(privateMade, '/awake', bearer());
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).url, '/awake');
  });

  test('an owner has at most 200 live URLs; revoking one makes room', async () => {
    const live = (await mags.sandboxes.urls.list()).filter(
      (url) => url.expiresAt === null || Date.parse(url.expiresAt) > Date.now(),
    );
    for (let index = live.length; index < 200; index++) {
      await mags.sandboxes.urls.create(sandbox, { port: 8080 });
    }
    await assert.rejects(mags.sandboxes.urls.create(sandbox, { port: 8080 }), {
      statusCode: 409,
      message: /You have 200 sandbox URLs, the most one owner may \(200\)/,
    });
    const [oldest] = await mags.sandboxes.urls.list(sandbox);
    await mags.sandboxes.urls.revoke((oldest as { id: string }).id);
    assert.equal((await mags.sandboxes.urls.create(sandbox, { port: 8080 })).port, 8080);
  });
});
