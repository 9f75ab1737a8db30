import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostGitIdentity } from './host-git-identity.ts';
import { sandboxEnvironment } from './sandbox-spec.ts';

test("the host's identity is git's author and committer variables; unset or blank: none", () => {
  assert.deepEqual(hostGitIdentity({ MAGS_GIT_NAME: 'CI Bot', MAGS_GIT_EMAIL: 'ci@example.com' }), {
    GIT_AUTHOR_NAME: 'CI Bot',
    GIT_COMMITTER_NAME: 'CI Bot',
    GIT_AUTHOR_EMAIL: 'ci@example.com',
    GIT_COMMITTER_EMAIL: 'ci@example.com',
  });
  assert.deepEqual(hostGitIdentity({ MAGS_GIT_EMAIL: 'ci@example.com' }), {
    GIT_AUTHOR_EMAIL: 'ci@example.com',
    GIT_COMMITTER_EMAIL: 'ci@example.com',
  });
  assert.deepEqual(hostGitIdentity({ MAGS_GIT_NAME: '  ' }), {});
  assert.deepEqual(hostGitIdentity({}), {});
});

test("a run's own environment wins over the host's identity", () => {
  const saved = process.env.MAGS_GIT_NAME;
  process.env.MAGS_GIT_NAME = 'CI Bot';
  try {
    const environment = sandboxEnvironment({ GIT_AUTHOR_NAME: 'Ada' });
    assert.equal(environment.GIT_AUTHOR_NAME, 'Ada');
    assert.equal(environment.GIT_COMMITTER_NAME, 'CI Bot');
  } finally {
    if (saved === undefined) delete process.env.MAGS_GIT_NAME;
    else process.env.MAGS_GIT_NAME = saved;
  }
});
