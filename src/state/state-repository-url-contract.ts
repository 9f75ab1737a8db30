import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { SandboxUrlRecord, StateRepository } from './state-repository.ts';

type ContractTest = (title: string, body: (t: TestContext) => Promise<void>) => void;

/**
 * The sandbox URL part of the state contract (`runStateRepositoryContract` calls it). Owners
 * here (`ursula`, `uma`) are used by no other test of the suite, which shares one repository.
 */
export function urlStateContract(test: ContractTest, repository: () => StateRepository): void {
  test('sandbox URLs are per owner, found by id and host label, and revoked once', async () => {
    const state = repository();
    const web = url('url_u1', 'ursula', 'web', { hostLabel: '8080-web-aaaaaaaa' });
    const open = url('url_u2', 'ursula', 'web', {
      public: true,
      hostLabel: '8080-web-aaaaaaaa',
      expiresAt: '2030-01-01T00:00:00.000Z',
    });
    const other = url('url_u3', 'ursula', 'api', { port: 3000, hostLabel: null });
    const hers = url('url_u4', 'uma', 'web', { hostLabel: '8080-web-bbbbbbbb' });
    for (const record of [web, open, other, hers]) await state.insertSandboxUrl(record);
    assert.deepEqual(await state.getSandboxUrl('url_u2'), open);
    assert.equal(await state.getSandboxUrl('url_none'), undefined);
    assert.deepEqual(
      (await state.listSandboxUrls('ursula')).map((record) => record.id),
      ['url_u1', 'url_u2', 'url_u3'],
    );
    assert.deepEqual(
      (await state.listSandboxUrls('ursula', 'web')).map((record) => record.id),
      ['url_u1', 'url_u2'],
    );
    assert.deepEqual(
      (await state.findSandboxUrlsByHostLabel('8080-web-aaaaaaaa')).map((record) => record.id),
      ['url_u1', 'url_u2'],
    );
    // Another owner cannot revoke it; the owner can, once; a revoked URL is listed no more.
    assert.equal(await state.revokeSandboxUrl('uma', 'url_u1', new Date().toISOString()), false);
    const revokedAt = new Date().toISOString();
    assert.equal(await state.revokeSandboxUrl('ursula', 'url_u1', revokedAt), true);
    assert.equal(await state.revokeSandboxUrl('ursula', 'url_u1', revokedAt), false);
    assert.equal((await state.getSandboxUrl('url_u1'))?.revokedAt, revokedAt);
    assert.deepEqual(
      (await state.listSandboxUrls('ursula', 'web')).map((record) => record.id),
      ['url_u2'],
    );
    assert.deepEqual(
      (await state.findSandboxUrlsByHostLabel('8080-web-aaaaaaaa')).map((record) => record.id),
      ['url_u2'],
    );
    assert.deepEqual(
      (await state.listSandboxUrls('uma')).map((record) => record.id),
      ['url_u4'],
    );
  });

  test('sandbox URLs revoked or expired before a time are deleted; the others stay', async () => {
    const state = repository();
    const ended = url('url_v1', 'ursula', 'gone', { expiresAt: '2026-11-01T00:00:00.000Z' });
    const later = url('url_v2', 'ursula', 'gone', { expiresAt: '2026-12-30T00:00:00.000Z' });
    const revoked = url('url_v3', 'ursula', 'gone', { revokedAt: '2026-11-02T00:00:00.000Z' });
    const kept = url('url_v4', 'ursula', 'gone');
    for (const record of [ended, later, revoked, kept]) await state.insertSandboxUrl(record);
    assert.equal(await state.deleteSandboxUrlsEndedBefore('2026-11-15T00:00:00.000Z'), 2);
    assert.equal(await state.getSandboxUrl('url_v1'), undefined);
    assert.equal(await state.getSandboxUrl('url_v3'), undefined);
    assert.deepEqual(await state.getSandboxUrl('url_v2'), later);
    assert.deepEqual(await state.getSandboxUrl('url_v4'), kept);
    assert.equal(await state.deleteSandboxUrlsEndedBefore('2026-11-15T00:00:00.000Z'), 0);
  });
}

function url(
  id: string,
  owner: string,
  sandbox: string,
  overrides: Partial<SandboxUrlRecord> = {},
): SandboxUrlRecord {
  return {
    id,
    owner,
    sandbox,
    sandboxCreatedAt: '2026-11-30T00:00:00.000Z',
    port: 8080,
    public: false,
    hostLabel: null,
    // Distinct creation times: the order listed is the order made.
    createdAt: `2026-11-30T00:00:0${id.slice(-1)}.000Z`,
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}
