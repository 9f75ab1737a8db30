/**
 * Sandbox URLs (`mags url`, issue 16) against a real `mags server` process: a web app inside a
 * long-lived sandbox without a network, reached through the server's proxy in the path form and
 * the host form, HTTP (streamed both ways) and WebSocket; who may use a URL (the owner's token,
 * a signed link and its cookie, public) and who may not (another owner, an expired link, a
 * revoked URL); a sleeping sandbox woken by a request.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
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

describe('sandbox URLs through a real server process', { skip, timeout: 300_000 }, () => {
  let testHome: TestHome;
  let server: { child: ChildProcess; url: string };
  let token: string;
  let otherToken: string;
  let mags: Mags;
  const sandbox = 'web';
  const bearer = () => ({ authorization: `Bearer ${token}` });
  let privateUrl: string;
  /** The path form of a URL (served whatever the Host): the host form needs wildcard DNS. */
  const pathForm = (made: { id: string }) => `${server.url}/u/${made.id}/`;
  const linkOf = (made: { signedUrl?: string }) => new URL(made.signedUrl as string).search;

  before(async () => {
    testHome = await createTestHome();
    server = await startServerProcess({ ...process.env, MAGS_HOME: testHome.home }, [
      '--pool-size',
      '0',
      '--url-domain',
      'example.test',
      // Idle sandboxes sleep within a second: a request must wake them.
      '--sleep-after',
      '1',
    ]);
    for (const owner of ['alice', 'bob']) {
      const created = await runCli(testHome.home, ['token', 'create', '--owner', owner]);
      assert.equal(created.code, 0, created.stderr);
      if (owner === 'alice') token = created.stdout.toString().trim();
      else otherToken = created.stdout.toString().trim();
    }
    mags = new Mags({ url: server.url, token });
    // No --net: the sandbox has loopback only, and still serves its URL.
    await mags.sandboxes.create({ name: sandbox, ephemeral: true });
    await mags.sandboxes.files.write(sandbox, '/tmp/app.js', sandboxWebApp);
    const started = await mags.sandboxes.execAndWait(sandbox, [
      'sh',
      '-c',
      'setsid node /tmp/app.js 8080 > /tmp/app.log 2>&1 < /dev/null &',
    ]);
    assert.equal(started.exitCode, 0, started.stderr);
    privateUrl = pathForm(await mags.sandboxes.urls.create(sandbox, { port: 8080 }));
    // Until the app listens, the proxy answers 502.
    await waitUntil(async () => (await get(`${privateUrl}hello`, bearer())).status === 200, 30_000);
  });
  after(async () => {
    server?.child.kill('SIGKILL');
    await testHome?.cleanup();
  });

  test('the host form PORT-NAME-TAG under --url-domain reaches the app, with the token', async () => {
    const made = await mags.sandboxes.urls.create(sandbox, { port: 8080 });
    const host = new URL(made.url).host;
    assert.match(host, /^8080-web-[0-9a-f]{8}\.example\.test:\d+$/);
    // The server is reached on loopback; the Host header alone picks the URL.
    const answer = await get(`${server.url}/path?q=1`, { host, ...bearer() });
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
  });

  test('the path form strips /u/ID and streams answers and request bodies', async () => {
    assert.match(privateUrl, /\/u\/url_[0-9a-f]{16}\/$/);
    const seen = JSON.parse((await get(`${privateUrl}a/b?c=d`, bearer())).body);
    assert.equal(seen.url, '/a/b?c=d');
    // /u/ID without its slash is redirected (relative links resolve under it).
    const bare = await get(privateUrl.slice(0, -1), bearer());
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.location, new URL(privateUrl).pathname);
    // A 5 MiB body goes up, a 20 MiB answer comes down: past the agent's 1 MiB windows.
    const upload = await get(`${privateUrl}upload`, bearer(), {
      method: 'POST',
      body: Buffer.alloc(5 * 1024 * 1024, 7),
    });
    assert.equal(JSON.parse(upload.body).received, 5 * 1024 * 1024);
    const download = await get(`${privateUrl}bytes/${20 * 1024 * 1024}`, bearer());
    assert.equal(download.status, 200);
    assert.equal(download.body.length, 20 * 1024 * 1024);
    // The first chunk arrives while the app still holds the answer open: streamed, not buffered.
    const first = await new Promise<{ chunk: string; rest: Promise<string> }>((resolve, reject) => {
      httpRequest(`${privateUrl}stream`, { headers: bearer() }, (answer) => {
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
    assert.equal((await get(`${privateUrl}release`, bearer())).body, 'released');
    assert.equal(await first.rest, 'last\n');
  });

  test('a WebSocket echo inside is reached through the URL, opened by a signed link', async () => {
    const made = await mags.sandboxes.urls.create(sandbox, { port: 8080, expiresInSeconds: 600 });
    const socket = new WebSocket(`${pathForm(made).replace(/^http/, 'ws')}ws${linkOf(made)}`);
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.onopen = () => socket.send('hello through the agent');
      socket.onmessage = (event) => resolve(String(event.data));
      socket.onerror = () => reject(new Error('WebSocket failed'));
    });
    socket.close();
    assert.equal(echoed, 'echo: hello through the agent');
  });

  test('private: no credential 401, another owner 404, a revoked URL 404, public needs nothing', async () => {
    const noCredential = await get(`${privateUrl}hello`);
    assert.equal(noCredential.status, 401);
    assert.match(noCredential.body, /private/);
    const other = await get(`${privateUrl}hello`, { authorization: `Bearer ${otherToken}` });
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
    assert.equal((await get(`${pathForm(open)}hello`)).status, 200);
    // The host form of a public URL, too (anyone, so every URL of that sandbox and port).
    const host = new URL(open.url).host;
    assert.equal((await get(`${server.url}/hello`, { host })).status, 200);
    await mags.sandboxes.urls.revoke(open.id);
    assert.equal((await get(`${pathForm(open)}hello`)).status, 401);
    assert.equal((await get(`${pathForm(open)}hello`, bearer())).status, 404);
    assert.equal((await get(`${server.url}/hello`, { host })).status, 401);
    assert.ok(!(await mags.sandboxes.urls.list(sandbox)).some((url) => url.id === open.id));
  });

  test('a signed link opens a private URL, sets its cookie, and is refused once expired', async () => {
    const made = await mags.sandboxes.urls.create(sandbox, { port: 8080, expiresInSeconds: 3600 });
    assert.ok(made.signedUrl);
    const first = await get(`${pathForm(made)}hello${linkOf(made)}&x=1`);
    assert.equal(first.status, 200, first.body);
    const seen = JSON.parse(first.body);
    assert.equal(seen.url, '/hello?x=1'); // the link is the proxy's, never the app's
    const cookie = (first.headers['set-cookie'] ?? [])[0] ?? '';
    assert.match(cookie, /^mags_link=url_[0-9a-f]{16}\.\d+\.[\w-]+; Path=\/u\/url_[0-9a-f]{16}\/;/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    // A browser goes on with the cookie alone; the app does not see it.
    const again = await get(`${pathForm(made)}next`, {
      cookie: `${cookie.split(';')[0]}; theme=dark`,
    });
    assert.equal(again.status, 200);
    assert.equal(JSON.parse(again.body).headers.cookie, 'theme=dark');
    // A link whose signature is wrong is as good as none of this URL.
    const forged = linkOf(made).replace(/.$/, (last) => (last === 'A' ? 'B' : 'A'));
    assert.equal((await get(`${pathForm(made)}${forged}`)).status, 404);
    const short = await mags.sandboxes.urls.create(sandbox, { port: 8080, expiresInSeconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await get(`${pathForm(short)}${linkOf(short)}`);
    assert.equal(expired.status, 410);
    assert.match(expired.body, /expired/);
  });

  test('nothing listening is a 502 naming the port; the CLI prints URLs and refuses bad ports', async () => {
    const made = await mags.sandboxes.urls.create(sandbox, { port: 9999 });
    const answer = await get(pathForm(made), { ...bearer(), accept: 'text/html' });
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
    const answer = await get(`${privateUrl}awake`, bearer());
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).url, '/awake');
  });
});
