/**
 * `mags doctor` on a MAGS_HOME the sandboxes cannot reach: inside a private (0700) directory,
 * every sandbox fails to mount its layers (they are mounted as an unprivileged host uid), so
 * doctor must say so rather than "ready".
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from './helpers/test-home.ts';

const root = await mkdtemp(join(tmpdir(), 'mags-test-doctor-'));
after(() => rm(root, { recursive: true, force: true }));

test('doctor reports a MAGS_HOME inside a 0700 directory as a problem, with the fix', async (t) => {
  if (process.platform !== 'linux') return t.skip('the namespace runtime is Linux only');
  const open = join(root, 'open', 'home');
  const closed = join(root, 'closed', 'home');
  await mkdir(open, { recursive: true });
  await mkdir(closed, { recursive: true });
  await chmod(join(root, 'open'), 0o755);
  await chmod(join(root, 'closed'), 0o700);
  await chmod(root, 0o755);
  const doctor = (home: string) =>
    runCli(home, ['doctor'], { env: { MAGS_RUNTIME: 'namespace' } }).then((result) => ({
      code: result.code,
      stdout: result.stdout.toString(),
    }));
  const refused = await doctor(closed);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /✗ The sandbox cannot reach .*closed is not traversable/);
  assert.match(refused.stdout, new RegExp(`chmod o\\+x ${join(root, 'closed')}`));
  assert.doesNotMatch(refused.stdout, /ready to run sandboxes/);
  const fine = await doctor(open);
  assert.doesNotMatch(fine.stdout, /not traversable/);
});
