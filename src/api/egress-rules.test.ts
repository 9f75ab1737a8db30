/** Egress allow-list rules: the CLI's words, the checks, the API schemas, the parking key. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../errors/mags-error.ts';
import { egressKey, parseAllowFlags } from './egress-rules.ts';
import { RunOptionsSchema } from './run-options.ts';
import { CreateSandboxBodySchema } from './schemas.ts';

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

test('a parked sandbox is matched by the same list in any order, not by another', () => {
  const a = [{ host: 'a.test' }, { cidr: '192.0.2.0/24', port: 80 }];
  assert.equal(egressKey(a), egressKey([...a].reverse()));
  assert.notEqual(egressKey(a), egressKey([{ host: 'a.test' }]));
  assert.notEqual(egressKey([{ host: 'a.test', port: 80 }]), egressKey([{ host: 'a.test' }]));
  assert.equal(egressKey(undefined), egressKey([]));
});
