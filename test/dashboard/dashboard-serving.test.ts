/**
 * The server serves the built dashboard (src/server/dashboard): its pages' paths answer with
 * index.html under a strict policy and a fresh nonce, hashed assets are cached for good and
 * sent precompressed, nothing outside the build is ever served, and the API's own 404s stay
 * JSON. A browser's WebSocket authenticates with its token as a subprotocol, never in the URL.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../../src/config/package-paths.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';

describe('the dashboard as the server serves it', () => {
  let testApp: TestApp;
  let directory: string;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-dashboard-'));
    await mkdir(join(directory, 'assets', 'chunks'), { recursive: true });
    await writeFile(
      join(directory, 'index.html'),
      '<script type="module" src="/assets/main-ABC.js" nonce="%NONCE%"></script>',
    );
    await writeFile(join(directory, 'assets', 'main-ABC.js'), 'console.log("plain")');
    await writeFile(join(directory, 'assets', 'main-ABC.js.br'), 'brotli bytes');
    await writeFile(join(directory, 'assets', 'main-ABC.js.gz'), 'gzip bytes');
    await writeFile(join(directory, 'secret.txt'), 'not an asset');
    testApp = await createTestApp({ dashboardDirectory: directory });
  });
  after(async () => {
    await testApp?.close();
    await rm(directory, { recursive: true, force: true });
  });

  test('every page path answers with index.html, a strict policy and a new nonce each time', async () => {
    const nonces = new Set<string>();
    for (const path of ['/', '/tickets', '/tickets/T-1/evidence', '/sandboxes/dev', '/system']) {
      const response = await testApp.app.request(path);
      assert.equal(response.status, 200, path);
      const policy = response.headers.get('content-security-policy') ?? '';
      assert.match(policy, /default-src 'none'/);
      assert.match(policy, /script-src 'self'(;|$)/, 'scripts only from the server, none inline');
      assert.match(policy, /frame-ancestors 'none'/);
      assert.doesNotMatch(policy, /unsafe-eval|\*/);
      // Inline only for style attributes (the terminal's cell colours): never scripts or <style>.
      assert.deepEqual(
        policy.split('; ').filter((directive) => directive.includes('unsafe-inline')),
        ["style-src-attr 'unsafe-inline'"],
      );
      const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
      assert.ok(nonce, 'the style nonce is in the policy');
      assert.ok((await response.text()).includes(`nonce="${nonce}"`), 'and in the page');
      nonces.add(nonce);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
    }
    assert.equal(nonces.size, 5);
  });

  test('assets: immutable, brotli or gzip as the client takes them, plain otherwise', async () => {
    const brotli = await testApp.app.request('/assets/main-ABC.js', {
      headers: { 'accept-encoding': 'gzip, deflate, br' },
    });
    assert.equal(brotli.status, 200);
    assert.equal(brotli.headers.get('content-encoding'), 'br');
    assert.equal(await brotli.text(), 'brotli bytes');
    assert.equal(brotli.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(brotli.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(brotli.headers.get('vary'), 'Accept-Encoding');
    const gzip = await testApp.app.request('/assets/main-ABC.js', {
      headers: { 'accept-encoding': 'gzip' },
    });
    assert.equal(gzip.headers.get('content-encoding'), 'gzip');
    const plain = await testApp.app.request('/assets/main-ABC.js');
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.equal(await plain.text(), 'console.log("plain")');
  });

  test('nothing outside the built assets is served: traversal, odd names, unknown files', async () => {
    for (const path of [
      '/assets/../secret.txt',
      '/assets/%2e%2e/secret.txt',
      '/assets/..%2fsecret.txt',
      '/assets/%E0%A4%A.js', // not UTF-8 once decoded: a 404, not a 500
      '/assets/chunks/../../secret.txt',
      '/assets/main-ABC.js.br',
      '/assets/missing-XYZ.js',
      '/assets/.hidden.js',
      '/secret.txt',
      '/index.html',
    ]) {
      const response = await testApp.app.request(path);
      assert.equal(response.status, 404, path);
      assert.doesNotMatch(await response.text(), /not an asset/, path);
    }
  });

  test('a browser at an unknown path gets the dashboard (it names the missing page) as a 404', async () => {
    const page = await testApp.app.request('/nope', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 404);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const api = await testApp.app.request('/nope', { headers: { accept: 'application/json' } });
    assert.equal(api.status, 404);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'not_found');
  });

  test('the API keeps its JSON 404 and its token check', async () => {
    const unknown = await testApp.app.request('/v1/nothing-here');
    assert.equal(unknown.status, 401);
    const { token } = await testApp.token('alice');
    const missing = await testApp.request(token, 'GET', '/v1/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('content-type')?.split(';')[0], 'application/json');
  });

  test('a token offered as the WebSocket subprotocol authenticates like a bearer header', async () => {
    const { token } = await testApp.token('alice');
    const withProtocol = await testApp.app.request('/v1/whoami', {
      headers: {
        upgrade: 'websocket',
        'sec-websocket-protocol': `mags-shell, mags-token.${token}`,
      },
    });
    assert.equal(withProtocol.status, 200);
    assert.equal(((await withProtocol.json()) as { owner: string }).owner, 'alice');
    const wrong = await testApp.app.request('/v1/whoami', {
      headers: {
        upgrade: 'websocket',
        'sec-websocket-protocol': 'mags-shell, mags-token.mags_wrong',
      },
    });
    assert.equal(wrong.status, 401);
    // Only on a WebSocket handshake: a plain request carrying it there is not signed in.
    const plain = await testApp.app.request('/v1/whoami', {
      headers: { 'sec-websocket-protocol': `mags-shell, mags-token.${token}` },
    });
    assert.equal(plain.status, 401);
  });

  test('index.html is read again after a rebuild, and a missing one is not remembered', async () => {
    const rebuilt = await mkdtemp(join(tmpdir(), 'mags-dashboard-'));
    const served = await createTestApp({ dashboardDirectory: rebuilt });
    try {
      assert.equal((await served.app.request('/tickets')).status, 503);
      await writeFile(join(rebuilt, 'index.html'), '<p>first build</p>');
      const first = await served.app.request('/tickets');
      assert.equal(first.status, 200);
      assert.equal(await first.text(), '<p>first build</p>');
      await writeFile(join(rebuilt, 'index.html'), '<p>the second build</p>');
      assert.equal(await (await served.app.request('/tickets')).text(), '<p>the second build</p>');
    } finally {
      await served.close();
      await rm(rebuilt, { recursive: true, force: true });
    }
  });

  test('an unbuilt dashboard says how to build it', async () => {
    const unbuilt = await createTestApp({ dashboardDirectory: join(directory, 'nothing') });
    try {
      const response = await unbuilt.app.request('/tickets');
      assert.equal(response.status, 503);
      assert.match(await response.text(), /npm run build/);
    } finally {
      await unbuilt.close();
    }
  });

  test('the real build: index.html names its assets, which exist with compressed copies', async () => {
    const built = join(packageRoot(), 'dist', 'dashboard');
    const { readFile } = await import('node:fs/promises');
    const html = await readFile(join(built, 'index.html'), 'utf8');
    const script = /src="\/assets\/([^"]+\.js)"/.exec(html)?.[1];
    const styles = /href="\/assets\/([^"]+\.css)"/.exec(html)?.[1];
    assert.ok(script && styles, 'index.html names a script and a stylesheet');
    for (const name of [script, styles]) {
      for (const suffix of ['', '.br', '.gz']) {
        await readFile(join(built, 'assets', `${name}${suffix}`));
      }
    }
  });
});
