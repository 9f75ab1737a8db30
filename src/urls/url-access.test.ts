import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MagsError } from '../errors/mags-error.ts';
import { createToken } from '../server/tokens.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { SandboxUrlRecord, StateRepository } from '../state/state-repository.ts';
import { decideUrlAccess, UrlAccessError } from './url-access.ts';
import { hostLabelFor, hostLabelOf, parsePathForm } from './url-addresses.ts';
import { UrlLinkSigner } from './url-link-signer.ts';

const record = (overrides: Partial<SandboxUrlRecord> = {}): SandboxUrlRecord => ({
  id: 'url_00000000000000a1',
  owner: 'alice',
  sandbox: 'web',
  sandboxCreatedAt: '2026-11-30T00:00:00.000Z',
  port: 8080,
  public: false,
  hostLabel: null,
  createdAt: '2026-11-30T00:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
  ...overrides,
});

describe('who may use a sandbox URL', () => {
  let directory: string;
  let repository: StateRepository;
  let signer: UrlLinkSigner;
  let alice: string;
  let bob: string;
  const parts = () => ({ repository, signer, acceptLocalOwner: false });
  const refusal = (status: number) => (error: unknown) =>
    error instanceof UrlAccessError && error.statusCode === status;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-url-access-'));
    repository = createSqliteStateRepository(join(directory, 'state.db'));
    signer = await UrlLinkSigner.open(join(directory, 'url-secret'));
    alice = (await createToken(repository, 'alice', 'laptop')).token;
    bob = (await createToken(repository, 'bob', 'laptop')).token;
  });
  after(async () => {
    await repository.close();
    await rm(directory, { recursive: true, force: true });
  });

  test('the secret is kept 0600 and the same one is read again', async () => {
    const info = await stat(join(directory, 'url-secret'));
    assert.equal(info.mode & 0o777, 0o600);
    const again = await UrlLinkSigner.open(join(directory, 'url-secret'));
    const link = signer.sign('url_00000000000000a1', Date.now() + 60_000);
    assert.equal(again.verify(link)?.urlId, 'url_00000000000000a1');
    assert.equal(new UrlLinkSigner(Buffer.alloc(32, 1)).verify(link), undefined);
  });

  test('a secret file of the wrong size (empty, cut short) is refused, not used as a key', async () => {
    for (const [name, content] of [
      ['empty', Buffer.alloc(0)],
      ['short', Buffer.alloc(5, 1)],
    ] as const) {
      const path = join(directory, `url-secret-${name}`);
      await writeFile(path, content, { mode: 0o600 });
      await assert.rejects(UrlLinkSigner.open(path), (error: unknown) => {
        assert.ok(error instanceof MagsError);
        assert.match(error.message, new RegExp(`has ${content.length} bytes, not 32`));
        assert.match(error.hint ?? '', /Remove .*url-secret/);
        return true;
      });
    }
    // Signers opening a new secret at once all end up with the one that was linked first.
    const path = join(directory, 'url-secret-race');
    const signers = await Promise.all([1, 2, 3].map(() => UrlLinkSigner.open(path)));
    const link = (signers[0] as UrlLinkSigner).sign('url_00000000000000a1', Date.now() + 60_000);
    for (const one of signers) assert.equal(one.verify(link)?.urlId, 'url_00000000000000a1');
    assert.equal((await readdir(directory)).filter((file) => file.endsWith('.tmp')).length, 0);
  });

  test('the owner token lets in (and is stripped); another owner, no URL or a revoked one are 404', async () => {
    const access = await decideUrlAccess(
      [record()],
      { authorization: `Bearer ${alice}`, links: [] },
      parts(),
    );
    assert.equal(access.via, 'token');
    await assert.rejects(
      decideUrlAccess([record()], { authorization: `Bearer ${bob}`, links: [] }, parts()),
      refusal(404),
    );
    await assert.rejects(
      decideUrlAccess([], { authorization: `Bearer ${alice}`, links: [] }, parts()),
      refusal(404),
    );
    await assert.rejects(
      decideUrlAccess(
        [record({ revokedAt: '2026-11-30T01:00:00.000Z' })],
        { authorization: `Bearer ${alice}`, links: [] },
        parts(),
      ),
      refusal(404),
    );
    // The app's own Authorization is not a mags token: not the proxy's to judge.
    const link = signer.sign('url_00000000000000a1', Date.now() + 60_000);
    const own = await decideUrlAccess(
      [record()],
      { authorization: 'Bearer app-session-1', links: [link] },
      parts(),
    );
    assert.equal(own.via, 'link');
    // Nothing to go on: 401 whether or not the URL exists.
    await assert.rejects(
      decideUrlAccess([record()], { authorization: undefined, links: [] }, parts()),
      refusal(401),
    );
    await assert.rejects(
      decideUrlAccess([], { authorization: undefined, links: [] }, parts()),
      refusal(401),
    );
  });

  test('a URL past its expiry is 410 for its owner; a public one lets anyone in until then', async () => {
    const now = Date.parse('2026-11-30T12:00:00.000Z');
    const ended = record({ expiresAt: '2026-11-30T11:00:00.000Z' });
    await assert.rejects(
      decideUrlAccess([ended], { authorization: `Bearer ${alice}`, links: [] }, parts(), now),
      refusal(410),
    );
    const open = record({ public: true, expiresAt: '2026-11-30T13:00:00.000Z' });
    assert.equal(
      (await decideUrlAccess([open], { authorization: undefined, links: [] }, parts(), now)).via,
      'public',
    );
    await assert.rejects(
      decideUrlAccess(
        [record({ public: true, expiresAt: '2026-11-30T11:00:00.000Z' })],
        { authorization: undefined, links: [] },
        parts(),
        now,
      ),
      refusal(401),
    );
  });

  test('a signed link lets in until it expires; one of another URL or forged is 404', async () => {
    const now = Date.now();
    const link = signer.sign('url_00000000000000a1', now + 60_000);
    const access = await decideUrlAccess(
      [record()],
      { authorization: undefined, links: [link] },
      parts(),
      now,
    );
    assert.equal(access.via, 'link');
    assert.equal(access.link?.value, link);
    await assert.rejects(
      decideUrlAccess(
        [record()],
        { authorization: undefined, links: [link] },
        parts(),
        now + 61_000,
      ),
      refusal(410),
    );
    const otherUrl = signer.sign('url_00000000000000b2', now + 60_000);
    await assert.rejects(
      decideUrlAccess([record()], { authorization: undefined, links: [otherUrl] }, parts(), now),
      refusal(404),
    );
    const forged = `url_00000000000000a1.${Math.floor(now / 1000) + 999_999}.${link.split('.')[2]}`;
    await assert.rejects(
      decideUrlAccess([record()], { authorization: undefined, links: [forged] }, parts(), now),
      refusal(404),
    );
  });
});

describe('sandbox URL addresses', () => {
  test('host labels: PORT-NAME-TAG for DNS-safe names, per owner; none otherwise', () => {
    const alice = hostLabelFor('alice', 'web', 8080);
    assert.match(alice ?? '', /^8080-web-[0-9a-f]{8}$/);
    assert.notEqual(alice, hostLabelFor('bob', 'web', 8080));
    assert.equal(hostLabelFor('alice', 'Web', 8080), null);
    assert.equal(hostLabelFor('alice', 'my_app', 8080), null);
    assert.equal(hostLabelFor('alice', 'a.b', 8080), null);
    assert.equal(hostLabelFor('alice', 'x'.repeat(60), 8080), null);
    assert.equal(
      hostLabelOf('8080-web-0a1b2c3d.Example.Test:7070', 'example.test'),
      '8080-web-0a1b2c3d',
    );
    assert.equal(hostLabelOf('a.8080-web.example.test', 'example.test'), undefined);
    assert.equal(hostLabelOf('example.test', 'example.test'), undefined);
    assert.equal(hostLabelOf('evil-example.test', 'example.test'), undefined);
    // Only PORT-NAME-TAG is claimed: other names under the domain stay the server's.
    assert.equal(hostLabelOf('www.example.test', 'example.test'), undefined);
    assert.equal(hostLabelOf('8080-web.example.test', 'example.test'), undefined);
    assert.equal(hostLabelOf('999999-web-0a1b2c3d.example.test', 'example.test'), undefined);
  });

  test('the path form: /u/ID/rest?query, and /u/ID bare', () => {
    assert.deepEqual(parsePathForm('/u/url_0123456789abcdef/a/b?c=d'), {
      urlId: 'url_0123456789abcdef',
      forwardPath: '/a/b?c=d',
      bare: false,
    });
    assert.deepEqual(parsePathForm('/u/url_0123456789abcdef?x=1'), {
      urlId: 'url_0123456789abcdef',
      forwardPath: '/?x=1',
      bare: true,
    });
    assert.equal(parsePathForm('/u/nope/'), undefined);
    assert.equal(parsePathForm('/v1/sandboxes'), undefined);
  });
});
