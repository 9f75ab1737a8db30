import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { egressAllowList, egressKey, parseAllowFlags } from '../api/egress-rules.ts';
import { RunOptionsSchema } from '../api/run-options.ts';
import { CreateSandboxBodySchema } from '../api/schemas.ts';
import { nativeBinaryPath } from '../config/package-paths.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import { egressLauncherPairs, networkPolicy } from './egress-policy.ts';

test('--allow-host and --allow-cidr words become rules: names in lower case, ports, literals as /32', () => {
  assert.deepEqual(
    parseAllowFlags(
      ['Registry.NPMjs.org:443', '*.example.com', '203.0.113.7:8080'],
      ['198.51.100.0/24', '192.0.2.0/28:53'],
    ),
    [
      { host: 'registry.npmjs.org', port: 443 },
      { host: '*.example.com' },
      { cidr: '203.0.113.7/32', port: 8080 },
      { cidr: '198.51.100.0/24' },
      { cidr: '192.0.2.0/28', port: 53 },
    ],
  );
});

test("the host's loopback, slirp4netns's addresses and the metadata range are refused with a reason", () => {
  for (const [hosts, cidrs] of [
    [['127.0.0.1'], []],
    [['10.0.2.2'], []],
    [['10.0.2.3:53'], []],
    [['169.254.169.254'], []],
    [['localhost'], []],
    [[], ['127.0.0.0/8']],
    [[], ['169.254.0.0/16:80']],
    [[], ['10.0.2.0/25']],
  ] as [string[], string[]][]) {
    assert.throws(
      () => parseAllowFlags(hosts, cidrs),
      (error: unknown) =>
        error instanceof InvalidInputError && /never|cannot be allowed/.test(error.message),
      `${hosts} ${cidrs}`,
    );
  }
  // A range that only contains them is allowed: the launcher refuses those parts (tested end to end).
  assert.deepEqual(parseAllowFlags([], ['0.0.0.0/0']), [{ cidr: '0.0.0.0/0' }]);
});

test('bad names, CIDRs and ports are refused with a hint', () => {
  for (const [hosts, cidrs] of [
    [['exa_mple.com'], []],
    [['-bad.com'], []],
    [['a..b'], []],
    [['host:0'], []],
    [['host:65536'], []],
    [['host:http'], []],
    [[`${'a'.repeat(64)}.com`], []],
    [[], ['300.1.1.1/8']],
    [[], ['10.0.0.0/33']],
    [[], ['10.0.0.0']],
  ] as [string[], string[]][]) {
    assert.throws(
      () => parseAllowFlags(hosts, cidrs),
      (error: unknown) => error instanceof InvalidInputError && error.hint !== undefined,
      `${hosts} ${cidrs}`,
    );
  }
});

test('the API schemas check rules the same way', () => {
  assert.equal(
    RunOptionsSchema.safeParse({ allow: [{ host: 'registry.npmjs.org', port: 443 }] }).success,
    true,
  );
  const refused = RunOptionsSchema.safeParse({ allow: [{ host: '169.254.169.254' }] });
  assert.equal(refused.success, false);
  assert.match(JSON.stringify(refused.error?.issues), /never reaches/);
  assert.equal(RunOptionsSchema.safeParse({ allow: [{ host: 'a', port: 0 }] }).success, false);
  assert.equal(RunOptionsSchema.safeParse({ allow: [{ url: 'x' }] }).success, false);
  assert.equal(
    CreateSandboxBodySchema.safeParse({ name: 'dev', allow: [{ cidr: '10.0.2.2/32' }] }).success,
    false,
  );
});

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

test('the server default list: for network without a list of its own; its own replaces it', () => {
  const defaults = [{ host: 'registry.npmjs.org' }];
  assert.deepEqual(egressAllowList(undefined, true, defaults), { allow: defaults });
  assert.deepEqual(egressAllowList(undefined, false, defaults), {});
  assert.deepEqual(egressAllowList([{ host: 'x.test' }], false, defaults), {
    allow: [{ host: 'x.test' }],
  });
  assert.deepEqual(egressAllowList(undefined, true, undefined), {});
});

test('a parked sandbox is matched by the same list in any order, not by another', () => {
  const a = [{ host: 'a.test' }, { cidr: '192.0.2.0/24', port: 80 }];
  assert.equal(egressKey(a), egressKey([...a].reverse()));
  assert.notEqual(egressKey(a), egressKey([{ host: 'a.test' }]));
  assert.notEqual(egressKey([{ host: 'a.test', port: 80 }]), egressKey([{ host: 'a.test' }]));
  assert.equal(egressKey(undefined), egressKey([]));
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
