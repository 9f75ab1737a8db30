import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { nativeBinaryPath } from '../config/package-paths.ts';
import { egressLauncherPairs, networkPolicy } from './egress-policy.ts';

test('a policy: an allow-list implies network; the launcher gets --net and the rules', () => {
  assert.deepEqual(networkPolicy(false, undefined), { egress: 'none' });
  assert.deepEqual(networkPolicy(true, []), { egress: 'all' });
  const policy = networkPolicy(false, [{ host: 'A.test', port: 80 }, { cidr: '192.0.2.0/24' }]);
  assert.deepEqual(policy, {
    egress: { allow: [{ host: 'a.test', port: 80 }, { cidr: '192.0.2.0/24' }] },
  });
  assert.deepEqual(egressLauncherPairs(policy, '/run/x/egress-blocked.log'), [
    ['--net', '1'],
    ['--egress-log', '/run/x/egress-blocked.log'],
    ['--allow-host', 'a.test:80'],
    ['--allow-cidr', '192.0.2.0/24'],
  ]);
  assert.deepEqual(egressLauncherPairs({ egress: 'all' }, '/x'), [['--net', '1']]);
  assert.deepEqual(egressLauncherPairs({ egress: 'none' }, '/x'), []);
});

test('the launcher refuses forbidden and malformed rules itself (exit 64), before any setup', {
  skip: existsSync(nativeBinaryPath('mags-sandbox')) ? false : 'mags-sandbox is not built',
}, () => {
  for (const [flag, value, message] of [
    ['--allow-cidr', '127.0.0.1/32', /cannot open/],
    ['--allow-host', '169.254.169.254', /cannot open/],
    ['--allow-cidr', '10.0.2.3/32:53', /cannot open/],
    ['--allow-host', 'bad_name', /RFC 1123/],
    ['--allow-host', 'a.test:99999', /port/],
  ] as const) {
    const result = spawnSync(nativeBinaryPath('mags-sandbox'), [
      '--root',
      '/nonexistent',
      '--lower',
      '/nonexistent',
      '--scratch',
      '/nonexistent',
      '--scratch-bytes',
      '1',
      '--fd',
      '3',
      flag,
      value,
      '--',
      '/bin/true',
    ]);
    assert.equal(result.status, 64, `${flag} ${value}`);
    assert.match(result.stderr.toString(), message);
  }
});
