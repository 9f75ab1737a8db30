/** The qemu host check finds the QEMU the runtime runs: MAGS_QEMU_PATH first, then the PATH. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkQemuHost, qemuPathFor } from './check-qemu-host.ts';

const home = await mkdtemp(join(tmpdir(), 'mags-test-qemu-check-'));
after(() => rm(home, { recursive: true, force: true }));
const binaries = { initPath: '/bin/true', agentPath: '/bin/true' };

test('MAGS_QEMU_PATH wins over the PATH', () => {
  assert.equal(
    qemuPathFor({ MAGS_QEMU_PATH: '/opt/qemu/bin/qemu', PATH: '/usr/bin' }),
    '/opt/qemu/bin/qemu',
  );
  assert.equal(qemuPathFor({ PATH: home }), undefined);
});

test('a MAGS_QEMU_PATH that is not an executable file is a problem naming it', async () => {
  const missing = join(home, 'no-such-qemu');
  const environment = { MAGS_QEMU_PATH: missing, PATH: '/usr/bin:/bin' };
  const check = await checkQemuHost({ home, environment, ...binaries });
  assert.equal(check.qemuPath, missing);
  assert.ok(
    check.problems.some(
      (problem) => problem.includes(missing) && problem.includes('MAGS_QEMU_PATH'),
    ),
    check.problems.join('\n'),
  );
});

test('an executable MAGS_QEMU_PATH is the QEMU checked, even with none on the PATH', async () => {
  const environment = { MAGS_QEMU_PATH: '/bin/true', PATH: home };
  const check = await checkQemuHost({ home, environment, ...binaries });
  assert.equal(check.qemuPath, '/bin/true');
  assert.ok(
    !check.problems.some((problem) => /qemu-system|not an executable/.test(problem)),
    check.problems.join('\n'),
  );
});

test('the path given by the runtime is the one checked', async () => {
  const check = await checkQemuHost({
    home,
    environment: { PATH: home },
    qemuPath: '/bin/true',
    ...binaries,
  });
  assert.equal(check.qemuPath, '/bin/true');
  const none = await checkQemuHost({ home, environment: { PATH: home }, ...binaries });
  assert.equal(none.qemuPath, undefined);
  assert.ok(none.problems.some((problem) => problem.includes('apt-get install qemu-system-x86')));
});
